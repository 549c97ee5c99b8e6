"""`runbook run`: the work behind the CLI, callable from tests and hooks."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence

from msgspec.structs import replace

from engine.core.events import Listener
from engine.ledger import LEDGER_FILE, Ledger, default_home, new_run_id
from engine.ledger.evidence import MaturityChange
from engine.run.events import EventBus, LedgerListener
from engine.run.preflight import Prepared, RunRequest, prepare
from engine.run.runner import Run, RunResult
from engine.steps.base import Operator
from engine.ui.live import PausingOperator, TerminalView
from engine.ui.operator import HeadlessOperator, TerminalOperator

Warn = Callable[[str], None]


def run_playbook(
    request: RunRequest,
    listeners: Sequence[Listener] = (),
    run_id: str | None = None,
    warn: Warn | None = None,
) -> RunResult:
    """Prepare (exit 2 on bad input, nothing recorded), then run and record (as `run_id`
    when the caller chose it, e.g. to link it first)."""
    run_id = run_id or new_run_id()
    prepared = prepare(request, run_id, mode="live")
    return execute_prepared(prepared, run_id, listeners, warn=warn)


def execute_prepared(
    prepared: Prepared,
    run_id: str,
    listeners: Sequence[Listener] = (),
    ledger: Ledger | None = None,
    warn: Warn | None = None,
) -> RunResult:
    """Run a prepared playbook to its outcome, recorded in `ledger` (by default the
    request's, opened and closed here)."""
    with open_ledger(prepared.request, ledger) as ledger:
        return make_run(prepared, run_id, ledger, listeners, warn).execute()


def make_run(
    prepared: Prepared,
    run_id: str,
    ledger: Ledger,
    listeners: Sequence[Listener] = (),
    warn: Warn | None = None,
) -> Run:
    """A run of a prepared playbook recorded in `ledger`, ready to `execute()` (a caller
    that keeps it can abort it from another thread: `run.signals.request_abort`). A
    playbook demoted in the ledger runs at its effective level (`warn` is told why)."""
    demoted = at_effective_level(prepared, ledger)
    if demoted is not None and warn is not None:
        warn(demotion_warning(prepared.request.file, demoted))
    bus = EventBus(prepared.redactor.redact_data)
    bus.ledger = LedgerListener(ledger)
    bus.listeners.extend(listeners)
    operator = make_operator(prepared.request, listeners)
    return Run(prepared, run_id, bus, ledger, operator)


def at_effective_level(prepared: Prepared, ledger: Ledger) -> MaturityChange | None:
    """Lower the prepared playbook to its effective level when a demotion of its content
    is recorded (to level 2 or above: a level-1 checklist is decided before preparing);
    the demotion."""
    playbook = prepared.playbook
    meta = playbook.metadata
    demoted = ledger.demotion_of(playbook.name, playbook.evidence_hash, meta.maturity)
    if demoted is None or demoted.to_level < 2:
        return None
    prepared.playbook = replace(playbook, metadata=replace(meta, maturity=demoted.to_level))
    return demoted


def demotion_warning(file: str, demoted: MaturityChange) -> str:
    """What `runbook run` says before a demoted playbook runs."""
    return (
        f"warning: {demoted.playbook} declares level {demoted.from_level} but is at effective"
        f" level {demoted.to_level}: {demoted.reason} ({demoted.change_id}, by"
        f" {demoted.operator}); it runs as level {demoted.to_level}. To re-promote on fresh"
        f" evidence: runbook promote {file} --to {demoted.from_level}"
    )


@contextlib.contextmanager
def open_ledger(request: RunRequest, ledger: Ledger | None = None) -> Iterator[Ledger]:
    """`ledger` as it is, or the request's ledger, opened for the block and closed after.

    A process that holds a ledger open passes it on: a second connection would open and
    close the file again, and closing a file drops the process's SQLite locks on it.
    """
    if ledger is not None:
        yield ledger
        return
    with Ledger.open((request.home or default_home()) / LEDGER_FILE) as opened:
        yield opened


def make_operator(request: RunRequest, listeners: Sequence[Listener] = ()) -> Operator:
    """The human, or the stand-in; the terminal's view is told when they are asked (the
    live table pauses meanwhile)."""
    operator = _operator(request)
    for listener in listeners:
        if isinstance(listener, TerminalView):
            return PausingOperator(operator, listener)
    return operator


def _operator(request: RunRequest) -> Operator:
    if request.interactive and not request.assume_yes:
        return TerminalOperator()
    if request.interactive:
        return PreApprovedTerminal()
    return HeadlessOperator(request.assume_yes)


class PreApprovedTerminal(TerminalOperator):
    """--yes at a terminal: confirm gates pass (recorded); manual steps still ask."""

    def confirm(self, question: str) -> bool:
        return True
