"""`runbook run` and `runbook plan`: the work behind the CLI, callable from tests and hooks."""

from __future__ import annotations

from collections.abc import Sequence

from engine.events import EventBus, LedgerListener, Listener
from engine.ledger import LEDGER_FILE, Ledger, default_home, new_run_id
from engine.operator import HeadlessOperator, TerminalOperator
from engine.preflight import Prepared, RunRequest, prepare
from engine.runner import Run, RunResult
from engine.steps.base import Operator


def run_playbook(request: RunRequest, listeners: Sequence[Listener] = ()) -> RunResult:
    """Prepare (exit 2 on bad input, nothing recorded), then run and record."""
    run_id = new_run_id()
    prepared = prepare(request, run_id, mode="live")
    return execute_prepared(prepared, run_id, listeners)


def execute_prepared(
    prepared: Prepared, run_id: str, listeners: Sequence[Listener] = ()
) -> RunResult:
    """Open the ledger and run a prepared playbook to its outcome."""
    request = prepared.request
    home = request.home or default_home()
    with Ledger.open(home / LEDGER_FILE) as ledger:
        bus = EventBus(prepared.redactor.redact_data)
        bus.ledger = LedgerListener(ledger)
        bus.listeners.extend(listeners)
        operator = make_operator(request, listeners)
        return Run(prepared, run_id, bus, ledger, operator).execute()


def make_operator(request: RunRequest, listeners: Sequence[Listener] = ()) -> Operator:
    """The human, or the stand-in; a live display is paused while they answer."""
    operator = _operator(request)
    for listener in listeners:
        pause = getattr(listener, "pause", None)
        if pause is not None:
            from engine.live import LiveDisplay, PausingOperator

            assert isinstance(listener, LiveDisplay)
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


def plan_playbook(request: RunRequest, output: str, probe: bool = False) -> str:
    """The dry-run: everything rendered, nothing changed, nothing recorded. With `probe`,
    the SLI and the read-only steps are read first."""
    from engine.dryrun import render_plan_json, render_plan_text

    if probe:  # it runs the read-only steps: commands, as the playbook declares them
        from engine.playbook.trust import check_playbook_owner

        check_playbook_owner(request.file, executes=True)
    prepared = prepare(request, run_id="dry-run", mode="dry-run")
    probed = None
    if probe:
        from engine.probe import probe_plan

        probed = probe_plan(prepared)
        prepared.plan = probed.plan
    render = render_plan_json if output == "json" else render_plan_text
    return prepared.redactor.redact(render(prepared.playbook, prepared.plan, probed))
