"""`sudo: true` runs `sudo -n`: never a password prompt that hangs the run. Needs `sudo` on
the machine (installed by .ci/run; a failure in CI when missing) and root (to add a
sudoers rule for the test user)."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from components import require_binary
from run_fixtures import (
    current_env,
    events,
    run_env,  # noqa: F401  (autouse fixture)
    run_id_of,
    runbook,
)
from sshd_fixtures import SshServer, sudoers_rule


@pytest.fixture(scope="module")
def sudoers(sshd: SshServer) -> Iterator[Path]:
    """A rule for the test user: `id` and `printenv` as root without a password."""
    require_binary("sudo", "sudo")
    if os.geteuid() != 0 or sshd.user == "root":
        pytest.skip("adding a sudoers rule for the test user needs root")
    text = (
        f"{sshd.user} ALL=(root) NOPASSWD: /usr/bin/id\n"
        f"{sshd.user} ALL=(root) NOPASSWD:SETENV: /usr/bin/printenv, /usr/bin/sleep\n"
    )
    with sudoers_rule("runbook-ssh-test", text) as rule:
        yield rule


def _run(sshd: SshServer, body: str, timeout: str = "20s") -> tuple[int, dict[str, object]]:
    work = current_env().work
    playbook = work / "sudo.yaml"
    playbook.write_text(
        "apiVersion: runbook/v1\nkind: Playbook\n"
        "metadata: {name: ssh-sudo, version: 1.0.0, maturity: 2, owner: tests}\n"
        f"steps:\n  - id: root\n    readonly: true\n    timeout: {timeout}\n"
        f"    ssh: {{host: box, sudo: true, {body}}}\n"
    )
    inventory = sshd.inventory(work / "inventory.yaml")
    ran = runbook("run", str(playbook), "--inventory", str(inventory))
    return ran.returncode, events(run_id_of(ran.stdout), "step_result")[0]["data"]


def test_sudo_runs_the_command_as_root(sshd: SshServer, sudoers: Path) -> None:
    code, result = _run(sshd, 'run: ["/usr/bin/id", "-u"], capture: uid')

    assert code == 0, result
    assert result["value"] == "0"


def test_sudo_never_prompts_it_fails_at_once_without_a_rule(sshd: SshServer, sudoers: Path) -> None:
    began = time.monotonic()

    code, result = _run(sshd, 'run: ["/usr/bin/whoami"]')

    assert code == 1
    assert result["status"] == "failed"
    assert "a password is required" in str(result["output"])
    assert time.monotonic() - began < 15


def test_env_reaches_a_sudo_command_through_preserve_env(sshd: SshServer, sudoers: Path) -> None:
    code, result = _run(
        sshd, 'run: ["/usr/bin/printenv", "GREETING"], env: {GREETING: "hi there"}, capture: g'
    )

    assert code == 0, result
    assert result["value"] == "hi there"


def test_a_timed_out_sudo_command_is_killed(sshd: SshServer, sudoers: Path) -> None:
    marker = f"3600.{uuid.uuid4().int % 10**9:09d}"
    try:
        code, result = _run(sshd, f'run: ["/usr/bin/sleep", "{marker}"]', timeout="2s")

        assert code == 1
        assert result["status"] == "timed_out"
        assert str(result["message"]).endswith("killed"), result
        left = subprocess.run(["pgrep", "-f", f"sleep {marker}"], capture_output=True, text=True)
        assert left.stdout == ""
    finally:
        subprocess.run(["pkill", "-KILL", "-f", f"sleep {marker}"], check=False)
