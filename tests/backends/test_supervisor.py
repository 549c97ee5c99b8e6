"""One supervisor, one outcome: the same command run locally and over ssh (the real sshd)
ends the same way, whether it exits, outlives its deadline or is cancelled; and a command
that closed its output is still held to its deadline."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sshd_fixtures import SshServer

from engine.backends.local.process import run_process
from engine.backends.ssh.command import RemoteCommand, run_remote
from engine.backends.ssh.inventory import load_inventory
from engine.backends.ssh.pool import connection
from engine.backends.supervisor import CommandOutcome, Ending
from engine.core.resources import Resources

Runner = Callable[[list[str], float, threading.Event, Callable[[str], None]], CommandOutcome]


@pytest.fixture
def remote(sshd: SshServer, tmp_path: Path) -> Iterator[Runner]:
    inventory = load_inventory(sshd.inventory(tmp_path / "inventory.yaml"), required=True)
    resources = Resources()
    transport, _ = connection(inventory.resolve("box")[0], inventory, resources).get()

    def run(
        argv: list[str], timeout: float, cancel: threading.Event, on_output: Callable[[str], None]
    ) -> CommandOutcome:
        command = RemoteCommand(tuple(argv))
        return run_remote(
            transport, command, timeout=timeout, on_output=on_output, cancel=cancel, cap=1024
        )

    try:
        yield run
    finally:
        resources.close_all()


def _local(
    argv: list[str], timeout: float, cancel: threading.Event, on_output: Callable[[str], None]
) -> CommandOutcome:
    return run_process(argv, timeout=timeout, cancel=cancel, on_output=on_output, cap=1024)


@pytest.fixture(params=["local", "remote"])
def runner(request: pytest.FixtureRequest) -> Runner:
    if request.param == "local":
        return _local
    run: Runner = request.getfixturevalue("remote")
    return run


def _run(
    runner: Runner, script: str, timeout: float, cancel_after: float | None = None
) -> tuple[CommandOutcome, list[str], float]:
    cancel, shown = threading.Event(), list[str]()
    if cancel_after is not None:
        threading.Timer(cancel_after, cancel.set).start()
    began = time.monotonic()
    outcome = runner(["sh", "-c", script], timeout, cancel, shown.append)
    return outcome, shown, time.monotonic() - began


def test_an_exit_is_the_same_outcome_locally_and_remotely(runner: Runner) -> None:
    script = "echo err >&2; sleep 0.3; echo out; printf tail; exit 3"
    outcome, shown, _ = _run(runner, script, 10)

    assert (outcome.ending, outcome.exit_code, outcome.detail) == (Ending.EXITED, 3, "")
    assert (outcome.stdout, outcome.output) == ("out\ntail", "err\nout\ntail")
    assert shown == ["err", "out", "tail"]  # the last line without its newline too


def test_a_timeout_kills_the_group_locally_and_remotely(runner: Runner) -> None:
    outcome, shown, took = _run(runner, "echo $$; sleep 30 & wait", 1)

    assert (outcome.ending, outcome.exit_code, outcome.timed_out) == (Ending.TIMED_OUT, None, True)
    assert shown[0] == outcome.stdout.strip()
    assert took < 5
    assert "killed" in outcome.detail


def test_a_cancel_stops_the_command_within_a_slice_locally_and_remotely(runner: Runner) -> None:
    outcome, _, took = _run(runner, "exec sleep 30", 60, cancel_after=0.5)

    assert (outcome.ending, outcome.cancelled) == (Ending.CANCELLED, True)
    assert took < 3


def test_a_long_output_keeps_its_tail_with_the_cut_marked(runner: Runner) -> None:
    outcome, _, _ = _run(runner, "i=0; while [ $i -lt 300 ]; do echo line-$i; i=$((i+1)); done", 10)

    assert outcome.truncated and "truncated" in outcome.output
    assert outcome.output.endswith("line-299\n")


def test_a_command_that_closed_its_output_is_still_killed_at_the_deadline() -> None:
    began = time.monotonic()
    outcome = run_process(
        ["sh", "-c", "echo $$; exec >&- 2>&-; exec sleep 30"], timeout=1, cap=1024
    )

    assert time.monotonic() - began < 5
    assert (outcome.ending, outcome.exit_code) == (Ending.TIMED_OUT, None)
    with pytest.raises(ProcessLookupError):
        os.kill(int(outcome.stdout), 0)
