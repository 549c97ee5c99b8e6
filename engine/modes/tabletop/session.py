"""A tabletop session: the walk-through shown step by step, each answer recorded in the
ledger as it is given (a run of mode `tabletop`), the findings and the duration at the
end. Nothing of the playbook runs: no probe, no command, no lock, no connection.

Ctrl-C, Ctrl-D at a question or SIGTERM end it as `aborted`, with the answers given so
far; an engine killed outright leaves the run for the ledger to mark `interrupted`."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import FrameType
from typing import Any, Protocol

from msgspec import Struct, field

from engine import __version__
from engine.core.errors import UsageError
from engine.core.events import RunFinished, RunStarted, TabletopAnswer, TabletopFindings
from engine.core.events import TabletopParticipants as Participants
from engine.core.outcome import Outcome
from engine.core.signals import stop_signals_handled
from engine.core.tabletop import BLOCKED
from engine.ledger import LEDGER_FILE, Ledger, RunInfo, default_home, host_name, new_run_id
from engine.modes.tabletop.answers import AnswersFile, load_answers
from engine.modes.tabletop.report import (
    AnsweredStep,
    Tabletop,
    check_report_target,
    intro_text,
    step_text,
    write_report,
)
from engine.modes.tabletop.walk import MODE, Walk, prepare_walk
from engine.ui.operator import AbortRequested, operator_name, os_user


class TabletopRequest(Struct, frozen=True):
    """What the caller asks for: the playbook and its inputs, who takes part, where the
    answers come from (a file, else the terminal) and where the report goes."""

    file: str
    inputs: Mapping[str, str] = field(default_factory=dict)
    participants: tuple[str, ...] = ()
    answers_file: str | None = None
    report_file: str | None = None
    home: Path | None = None
    environ: Mapping[str, str] | None = None


class Asker(Protocol):
    """Who answers: the participants at a terminal, or their answers file."""

    def say(self, text: str) -> None: ...

    def participants(self) -> list[str]: ...

    def answer(self, shown: str) -> tuple[str, str, str]: ...

    def findings(self) -> str: ...


class FileAsker:
    """The answers written down beforehand (`--answers FILE`), already checked whole."""

    def __init__(self, answers: AnswersFile) -> None:
        self.answers = answers
        self.next = iter(answers.steps.values())

    def say(self, text: str) -> None:
        """The file's answers need nobody told: the report says it all at the end."""

    def participants(self) -> list[str]:
        return list(self.answers.participants)

    def answer(self, shown: str) -> tuple[str, str, str]:
        found = next(self.next)
        return found.answer, found.note, found.gap

    def findings(self) -> str:
        return self.answers.findings


def run_tabletop(request: TabletopRequest, terminal: Asker | None) -> Tabletop:
    """The tabletop of `request.file`: checked, then walked through with `terminal` or
    the answers file, recorded, and its report written. UsageError (exit 2), nothing
    recorded, for bad input or no terminal without an answers file."""
    walk = prepare_walk(request.file, request.inputs, request.home, request.environ)
    asker = _asker(request, walk, terminal)
    check_report_target(request.report_file)
    named = list(request.participants) or (
        asker.participants() if isinstance(asker, FileAsker) else []
    )
    if not named and isinstance(asker, FileAsker):
        raise UsageError(
            "nobody takes part: the answers file names no participants",
            "add `participants: [NAME, …]` to the answers file, or pass --participant NAME",
        )
    path = (request.home or default_home()) / LEDGER_FILE
    with Ledger.open(path) as ledger:
        tabletop = _session(ledger, walk, asker, named)
    if request.report_file is not None:
        write_report(Path(request.report_file), tabletop)
    return tabletop


def _asker(request: TabletopRequest, walk: Walk, terminal: Asker | None) -> Asker:
    if request.answers_file is not None:
        ids = [step.planned.id for step in walk.steps]
        return FileAsker(load_answers(request.answers_file, ids))
    if terminal is None:
        raise UsageError(
            "runbook tabletop asks its questions at a terminal, and there is none (stdin is"
            " not a terminal): nothing recorded",
            "run it at a terminal, or write the answers down and pass --answers FILE"
            " (README: Tabletop exercises)",
        )
    return terminal


def _session(ledger: Ledger, walk: Walk, asker: Asker, named: list[str]) -> Tabletop:
    """The exercise, its start and its end recorded; the stop signals are handled from
    before the start is recorded to after the end is: a Ctrl-C or SIGTERM at any moment
    records the tabletop `aborted` (never left running, for the ledger to call it
    `interrupted`)."""
    stops = Stops()
    with stop_signals_handled(stops.handle):
        stops.recording = True  # a stop while the start is recorded waits for it
        tabletop = _start(ledger, walk, named)
        clock = time.monotonic()
        try:
            stops.release()
            _walk_through(ledger, walk, asker, tabletop, stops)
            tabletop.status = Outcome.COMPLETED.value
        except (AbortRequested, KeyboardInterrupt):
            tabletop.status = Outcome.ABORTED.value
        stops.recording = True  # the end is recorded whole; a further stop changes nothing
        tabletop.duration = time.monotonic() - clock
        _finish(ledger, tabletop)
    return tabletop


class Stops:
    """Ctrl-C and SIGTERM: the exercise ends, as aborted, at the question it was at; one
    that comes while something is recorded (the start, an answer) waits until it is in
    the ledger and in the report alike."""

    def __init__(self) -> None:
        self.recording = False
        self.pending = False

    def handle(self, signum: int, frame: FrameType | None) -> None:
        if self.recording:
            self.pending = True
            return
        raise KeyboardInterrupt

    def release(self) -> None:
        """Stops act at once again; one that came while recording acts now."""
        self.recording = False
        if self.pending:
            self.pending = False
            raise KeyboardInterrupt

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        self.recording = True
        try:
            yield
        finally:
            self.recording = False
        self.release()


def _start(ledger: Ledger, walk: Walk, named: list[str]) -> Tabletop:
    playbook = walk.playbook
    meta = playbook.metadata
    info = RunInfo(
        run_id=new_run_id(),
        playbook=meta.name,
        version=meta.version,
        content_hash=playbook.content_hash,
        file=str(Path(playbook.file).resolve()),
        mode=MODE,
        inputs=walk.inputs,
        operator=operator_name(),
        host=host_name(),
        engine_version=__version__,
        started_at=time.time(),
        evidence_hash=playbook.evidence_hash or None,
        maturity=meta.maturity,
    )
    ledger.start_run(info)
    started = RunStarted(
        playbook=meta.name,
        version=meta.version,
        maturity=meta.maturity,
        mode=MODE,
        steps=[step.planned.id for step in walk.steps],
        approved_by=None,
        operator=info.operator,
        os_user=os_user(),
        parent_run=None,
        source=walk.source,
    )
    ledger.append(info.run_id, started.kind, started.fields())
    return Tabletop(info.run_id, walk, participants=named, started_at=info.started_at)


def _walk_through(
    ledger: Ledger, walk: Walk, asker: Asker, tabletop: Tabletop, stops: Stops
) -> None:
    run_id = tabletop.run_id
    asker.say(intro_text(walk, run_id))
    named = tabletop.participants or asker.participants()
    with stops.held():
        said = Participants(participants=named)
        ledger.append(run_id, said.kind, said.fields())
        tabletop.participants = named
    for index, walked in enumerate(walk.steps, 1):
        answer, note, gap = asker.answer(step_text(walked, index, len(walk.steps)))
        planned = walked.planned
        with stops.held():  # in the ledger and the report, or in neither
            event = TabletopAnswer(answer=answer, note=note, gap=gap)
            ledger.append(run_id, event.kind, event.fields(), planned.id)
            tabletop.steps.append(AnsweredStep(planned.id, planned.title, answer, note, gap))
    tabletop.findings = asker.findings()


def _finish(ledger: Ledger, tabletop: Tabletop) -> None:
    ended = TabletopFindings(findings=tabletop.findings, duration=round(tabletop.duration, 3))
    finished = RunFinished(outcome=Outcome(tabletop.status), message=tabletop.message())
    ledger.append_many(
        tabletop.run_id,
        [(ended.kind, None, ended.fields()), (finished.kind, None, finished.fields())],
    )
    ledger.finish_run(tabletop.run_id, tabletop.status, summary(tabletop))


def summary(tabletop: Tabletop) -> dict[str, Any]:
    """What the run's row keeps of the exercise: the board reads its answers and gaps."""
    return {
        "message": tabletop.message(),
        "participants": tabletop.participants,
        "duration": round(tabletop.duration, 3),
        "steps": {step.id: step.answer for step in tabletop.steps},
        "blocked": [step.id for step in tabletop.steps if step.answer == BLOCKED],
        "gaps": [
            {"step": step.id, "gap": step.gap, "note": step.note}
            for step in tabletop.steps
            if step.gap
        ],
    }
