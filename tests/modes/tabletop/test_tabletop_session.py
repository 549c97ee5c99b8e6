"""A tabletop in-process: nothing runs (no process started, no connection made, no secret
read), and what the participants answered is in the ledger and the report."""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
from pathlib import Path
from typing import Any, NoReturn

import pytest
from http_fixtures import Origin
from tabletop_helpers import CANARY, STEP_IDS, answers_file, tabletop_playbook

from engine.core.errors import UsageError
from engine.ledger import LEDGER_FILE, Ledger, RunInfo
from engine.modes.tabletop.answers import load_answers
from engine.modes.tabletop.report import intro_text, step_text, write_report
from engine.modes.tabletop.session import (
    FileAsker,
    Stops,
    TabletopRequest,
    _session,
    run_tabletop,
)
from engine.modes.tabletop.walk import prepare_walk


@pytest.fixture
def nothing_may_run(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every way to start a process or open a connection fails the test (and is noted)."""
    tried: list[str] = []

    def refuse(what: str) -> Any:
        def call(*args: object, **kwargs: object) -> NoReturn:
            tried.append(what)
            raise AssertionError(f"a tabletop tried {what}")

        return call

    monkeypatch.setattr(subprocess, "Popen", refuse("to start a process"))
    for name in ("fork", "forkpty", "posix_spawn", "posix_spawnp", "execv", "execve", "system"):
        monkeypatch.setattr(os, name, refuse(f"os.{name}"))
    monkeypatch.setattr(socket.socket, "connect", refuse("to connect"))
    monkeypatch.setattr(socket.socket, "connect_ex", refuse("to connect"))
    monkeypatch.setattr(socket, "create_connection", refuse("to connect"))
    return tried


def _request(tmp_path: Path, origin: Origin, **extra: Any) -> TabletopRequest:
    path, _markers = tabletop_playbook(tmp_path, origin.url)
    return TabletopRequest(
        file=str(path), answers_file=str(answers_file(tmp_path)), home=tmp_path / "home", **extra
    )


def test_a_tabletop_starts_no_process_connects_nowhere_and_reads_no_secret(
    tmp_path: Path,
    http_origin: Origin,
    nothing_may_run: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TABLETOP_TOKEN", CANARY)  # a run would read it; a tabletop must not
    report = tmp_path / "report.md"

    done = run_tabletop(_request(tmp_path, http_origin, report_file=str(report)), None)

    assert done.status == "completed"
    assert nothing_may_run == []
    assert http_origin.received == []
    assert list((tmp_path / "markers").iterdir()) == []
    ledger_bytes = (tmp_path / "home" / LEDGER_FILE).read_bytes()
    assert CANARY.encode() not in ledger_bytes
    assert CANARY not in report.read_text()


def test_the_answers_gaps_and_findings_are_in_the_ledger_and_the_report(
    tmp_path: Path, http_origin: Origin
) -> None:
    report = tmp_path / "report.md"

    done = run_tabletop(_request(tmp_path, http_origin, report_file=str(report)), None)

    with Ledger.open(tmp_path / "home" / LEDGER_FILE) as ledger:
        row = ledger.get_run(done.run_id)
        events = ledger.events(done.run_id)
    assert (row.mode, row.status) == ("tabletop", "completed")
    assert row.summary["blocked"] == ["purge"]
    assert row.summary["gaps"] == [
        {"step": "call", "gap": "unclear_instruction", "note": "which flag?"},
        {"step": "purge", "gap": "missing_permission", "note": "no sudo on db hosts"},
    ]
    assert [e.kind for e in events] == [
        "run_started",
        "tabletop_participants",
        *["tabletop_answer"] * len(STEP_IDS),
        "tabletop_findings",
        "run_finished",
    ]
    answers = {e.step_id: e.data for e in events if e.kind == "tabletop_answer"}
    assert answers["drain"] == {"answer": "would_do", "note": "we do this weekly", "gap": ""}
    assert answers["purge"]["gap"] == "missing_permission"
    assert events[1].data == {"participants": ["ana", "bo"]}
    assert events[-2].data["findings"] == "nobody knew who owns db1"
    assert events[-2].data["duration"] >= 0

    text = report.read_text()
    assert stat.S_IMODE(report.stat().st_mode) == 0o600
    assert "- Participants: ana, bo" in text
    assert "| 3 | purge | blocked | missing permission | no sudo on db hosts |" in text
    assert "### Missing permission\n\n- `purge`: no sudo on db hosts" in text
    assert "### Unclear instruction\n\n- `call`: which flag?" in text
    assert "## Findings\n\nnobody knew who owns db1" in text


HOSTILE_ANSWERS = """\
participants: ["ana\\e]0;pwned\\a", "bo\\e[2J"]
steps:
  drain: would_do
  call: {answer: unclear, gap: other, note: "x\\e[31mred\\u202eevil\\u009b2J"}
  purge: would_do
findings: "line one\\e[2J\\nline two\\rover"
"""


def test_the_report_file_shows_escape_sequences_in_answers_as_text(
    tmp_path: Path, http_origin: Origin
) -> None:
    report = tmp_path / "report.md"
    path, _markers = tabletop_playbook(tmp_path, http_origin.url)
    request = TabletopRequest(
        file=str(path),
        answers_file=str(answers_file(tmp_path, HOSTILE_ANSWERS)),
        home=tmp_path / "home",
        report_file=str(report),
    )

    run_tabletop(request, None)

    text = report.read_text()
    obeyed = [c for c in text if (ord(c) < 32 and c != "\n") or 0x7F <= ord(c) < 0xA0]
    assert obeyed == [] and "\u202e" not in text
    assert "- Participants: ana\\x1b]0;pwned\\x07, bo\\x1b[2J" in text
    assert "| other | x\\x1b[31mred\\u202eevil\\u009b2J |" in text
    assert "## Findings\n\nline one\\x1b[2J\nline two\\rover" in text


def test_a_report_target_that_is_not_a_regular_file_is_left_alone_and_nothing_recorded(
    tmp_path: Path, http_origin: Origin
) -> None:
    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    link = tmp_path / "report.md"
    link.symlink_to(tmp_path / "elsewhere.md")
    for target, kind in ((fifo, "a FIFO"), (link, "a symlink")):
        with pytest.raises(UsageError, match=f"not a regular file but {kind}"):
            run_tabletop(_request(tmp_path, http_origin, report_file=str(target)), None)
    assert stat.S_ISFIFO(fifo.lstat().st_mode) and link.is_symlink()
    assert not (tmp_path / "home" / LEDGER_FILE).exists()


def test_a_fifo_made_where_the_report_goes_during_the_exercise_is_left_alone(
    tmp_path: Path, http_origin: Origin
) -> None:
    target = tmp_path / "report.md"
    done = run_tabletop(_request(tmp_path, http_origin), None)
    os.mkfifo(target)
    with pytest.raises(UsageError, match=f"it is a FIFO .*, not a file.*{done.run_id}"):
        write_report(target, done)
    assert stat.S_ISFIFO(target.lstat().st_mode)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".report")] == []


def test_participants_on_the_command_line_replace_those_of_the_file(
    tmp_path: Path, http_origin: Origin
) -> None:
    done = run_tabletop(_request(tmp_path, http_origin, participants=("cy",)), None)

    assert done.participants == ["cy"]


def test_each_step_is_shown_rendered_with_its_undo_change_gate_and_condition(
    tmp_path: Path, http_origin: Origin
) -> None:
    done = run_tabletop(_request(tmp_path, http_origin), None)
    drain, call, purge = (step_text(step, i, 3) for i, step in enumerate(done.walk.steps, 1))
    intro = intro_text(done.walk, done.run_id)

    assert "what:    Take the host out of the load balancer pool." in drain
    assert "changes: would change the system" in drain
    assert "undo:    sh -c 'touch " in drain
    assert "confirm: asks 'Drain db1?' before it runs" in drain
    assert f"run:     PUT {http_origin.url}/flag" in call
    assert f"undo:    DELETE {http_origin.url}/flag" in call
    assert "undo:    irreversible: the files are gone for good" in purge
    assert "when: runs only when inputs.host == 'db1'" in purge
    assert "SLI (not read): http probe" in intro
    assert "secrets (not read; shown as «secret:NAME»): token" in intro
    assert "inject break: sh -c 'touch " in intro
    assert "detect within 10.0s" in intro


def test_a_stop_while_an_answer_is_recorded_waits_for_the_record() -> None:
    stops = Stops()
    recorded: list[str] = []

    with pytest.raises(KeyboardInterrupt), stops.held():
        stops.handle(signal.SIGTERM, None)  # arrives between the ledger and the report
        recorded.append("both")

    assert recorded == ["both"]
    with pytest.raises(KeyboardInterrupt):  # at a question: at once
        Stops().handle(signal.SIGINT, None)


class CtrlCWhileStarting(Ledger):
    """The real ledger, and a Ctrl-C that comes the moment the run is recorded started."""

    def start_run(self, info: RunInfo) -> None:
        super().start_run(info)
        os.kill(os.getpid(), signal.SIGINT)


def test_a_ctrl_c_while_the_start_is_recorded_records_the_tabletop_aborted(
    tmp_path: Path, http_origin: Origin
) -> None:
    request = _request(tmp_path, http_origin)
    walk = prepare_walk(request.file, {}, request.home, None)
    asker = FileAsker(load_answers(str(request.answers_file), STEP_IDS))

    with CtrlCWhileStarting.open(tmp_path / "home" / LEDGER_FILE) as ledger:
        try:
            done = _session(ledger, walk, asker, ["ana"])
        except KeyboardInterrupt:
            pytest.fail("the Ctrl-C escaped: the run is left running, later `interrupted`")
        row = ledger.get_run(done.run_id)

    assert (done.status, row.status) == ("aborted", "aborted")
    assert done.steps == []
    assert row.summary["message"] == "stopped at drain after 0 of 3 step(s): " + (
        "0 would do, 0 unclear, 0 blocked; 0 gap(s)"
    )
