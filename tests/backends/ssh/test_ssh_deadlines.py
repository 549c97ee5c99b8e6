"""Remote commands under deadlines: a timed-out command is killed on the server, a lost
connection or a missing exit status is `unknown`, 50 MB of output does not deadlock."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from run_fixtures import (
    current_env,
    events,
    run_env,  # noqa: F401  (autouse fixture)
    run_id_of,
    runbook,
    start_engine,
    wait_for,
)
from sshd_fixtures import SshServer, session_children, ssh_playbook


@pytest.fixture
def marker() -> Iterator[str]:
    """`3600.<random>`: a sleep argument no other process uses; sleepers killed after."""
    value = f"3600.{uuid.uuid4().int % 10**9:09d}"
    yield value
    subprocess.run(["pkill", "-KILL", "-f", f"sleep {value}"], check=False)


def _sleepers(marker: str) -> list[str]:
    found = subprocess.run(
        ["pgrep", "-af", f"sleep {marker}"], capture_output=True, text=True, check=False
    )
    return [line for line in found.stdout.splitlines() if "pgrep" not in line]


def _inventory(sshd: SshServer) -> str:
    return str(sshd.inventory(current_env().work / "inventory.yaml"))


def _variant(name: str, old: str, new: str) -> str:
    path = current_env().work / name
    path.write_text(Path(ssh_playbook(name)).read_text().replace(old, new))
    return str(path)


def _result(output: str) -> dict[str, object]:
    return events(run_id_of(output), "step_result")[0]["data"]


def test_a_timed_out_remote_command_is_killed_on_the_server(sshd: SshServer, marker: str) -> None:
    began = time.monotonic()

    ran = runbook(
        "run", ssh_playbook("sleep.yaml"), "--inventory", _inventory(sshd), "-i", f"marker={marker}"
    )

    assert ran.returncode == 1, ran.stdout + ran.stderr
    result = _result(ran.stdout)
    assert (result["status"], result["exit_code"]) == ("timed_out", None)
    assert 1.9 < float(str(result["duration"])) < 3.5  # about the 2 s deadline
    message = str(result["message"])
    assert message.startswith("timed out after 2s (command deadline); remote process group ")
    assert message.endswith(" killed")
    assert _sleepers(marker) == []  # nothing left on the server
    assert time.monotonic() - began < 10


def test_fifty_megabytes_of_output_complete_with_the_right_exit_code(sshd: SshServer) -> None:
    began = time.monotonic()

    ran = runbook("run", ssh_playbook("bigout.yaml"), "--inventory", _inventory(sshd), "-q")

    assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr
    result = _result(ran.stdout)
    assert (result["status"], result["exit_code"]) == ("succeeded", 3)
    output = str(result["output"])
    assert output.startswith("[… output truncated, last 65536 characters kept …]")
    assert len(output) < 70_000  # the ledger keeps a capped tail
    assert "the-end\n" in output[-200:]  # the tail is kept (stderr may interleave)
    assert time.monotonic() - began < 90


def _start_and_wait_for_sleep(sshd: SshServer, marker: str) -> subprocess.Popen[str]:
    playbook = _variant("sleep.yaml", "timeout: 2s", "timeout: 60s")
    engine = start_engine(
        "run", playbook, "--inventory", _inventory(sshd), "-i", f"marker={marker}"
    )
    wait_for(lambda: bool(_sleepers(marker)), timeout=20, what="the remote sleep")
    return engine


def test_a_connection_lost_mid_command_is_unknown_never_succeeded(
    sshd: SshServer, marker: str
) -> None:
    engine = _start_and_wait_for_sleep(sshd, marker)

    for pid in session_children(sshd):  # the server side of our connection dies
        os.killpg(pid, signal.SIGKILL)  # "sshd: user [priv]" and its "@notty" child
    stdout, _ = engine.communicate(timeout=30)

    assert engine.returncode == 1, stdout
    result = _result(stdout)
    assert (result["status"], result["exit_code"]) == ("unknown", None)
    assert "no exit status from box" in str(result["message"])
    assert "whether it took effect is unknown" in str(result["message"])


def test_a_command_that_ends_without_an_exit_status_is_unknown(
    sshd: SshServer, tmp_path: Path
) -> None:
    playbook = tmp_path / "no-status.yaml"
    playbook.write_text(
        "apiVersion: runbook/v1\nkind: Playbook\n"
        "metadata: {name: ssh-no-status, version: 1.0.0, maturity: 2, owner: tests}\n"
        "steps:\n  - id: vanish\n    readonly: true\n"
        '    ssh: {host: box, run: ["sh", "-c", "echo going; kill -9 $PPID; sleep 1"]}\n'
    )

    ran = runbook("run", str(playbook), "--inventory", _inventory(sshd))

    assert ran.returncode == 1, ran.stdout + ran.stderr
    result = _result(ran.stdout)
    assert (result["status"], result["exit_code"]) == ("unknown", None)
    assert "no exit status" in str(result["message"])


def test_an_aborted_run_kills_the_remote_command(sshd: SshServer, marker: str) -> None:
    engine = _start_and_wait_for_sleep(sshd, marker)

    engine.send_signal(signal.SIGINT)
    stdout, _ = engine.communicate(timeout=30)

    assert engine.returncode == 130, stdout
    result = _result(stdout)
    assert result["status"] == "unknown"
    assert str(result["message"]).startswith("cancelled; remote process group ")
    assert _sleepers(marker) == []


def test_a_killed_engine_leaves_no_remote_command_running(sshd: SshServer, marker: str) -> None:
    engine = _start_and_wait_for_sleep(sshd, marker)

    engine.send_signal(signal.SIGKILL)  # its connection dies with it; nobody kills anything
    engine.communicate(timeout=10)

    wait_for(lambda: _sleepers(marker) == [], timeout=5, what="the remote sleep to die")
