"""In-process, against the real sshd: the run's connection cache opens one transport per
host, reuses it, reopens it when it died; paramiko stays off the start-up path."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from sshd_fixtures import SshServer, session_children, wait_gone
from tree import TESTS

from engine.backends.ssh.command import RemoteCommand, run_remote
from engine.backends.ssh.inventory import load_inventory
from engine.backends.ssh.pool import connection
from engine.core.resources import Resources


def _echo(transport: object, text: str) -> str:
    outcome = run_remote(
        transport,  # type: ignore[arg-type]
        RemoteCommand(("echo", text)),
        timeout=10,
        on_output=lambda line: None,
        cancel=threading.Event(),
        cap=1024,
    )
    assert (outcome.ending, outcome.exit_code) == ("exited", 0), outcome
    return outcome.stdout


def test_one_transport_per_host_reused_and_reopened_when_it_died(
    sshd: SshServer, tmp_path: Path
) -> None:
    inventory = load_inventory(sshd.inventory(tmp_path / "inventory.yaml"), required=True)
    host = inventory.resolve("box")[0]
    resources = Resources()
    try:
        first, opened = connection(host, inventory, resources).get()
        again, reopened = connection(host, inventory, resources).get()
        assert (opened, reopened, again is first) == (True, False, True)
        assert _echo(first, "one") == "one\n"

        for pid in session_children(sshd):
            os.killpg(pid, signal.SIGKILL)
        wait_gone(first)

        fresh, opened_again = connection(host, inventory, resources).get()
        assert opened_again and fresh is not first
        assert _echo(fresh, "two") == "two\n"
        assert connection(host, inventory, resources).opened == 2
    finally:
        resources.close_all()


def test_help_validate_and_plan_never_import_paramiko() -> None:
    playbook = str(TESTS / "playbooks" / "ssh" / "flow.yaml")
    for args in (
        ["--help"],
        ["validate", playbook],
        ["plan", playbook, "-i", "host=box", "-i", "dir=/x"],
    ):
        traced = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "engine", *args],
            capture_output=True,
            text=True,
            check=False,
        )
        assert traced.returncode == 0, traced.stdout + traced.stderr
        assert "paramiko" not in traced.stderr, args
