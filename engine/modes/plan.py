"""`runbook plan` (and `run --dry-run`): every step rendered with its undo and a verdict,
nothing changed, nothing recorded; with `--probe`, the SLI and the read-only steps are
read first."""

from __future__ import annotations

from engine.modes.probe import probe_plan
from engine.playbook.trust import check_playbook_owner
from engine.run.plan import render_plan_json, render_plan_text
from engine.run.preflight import RunRequest, prepare


def plan_playbook(request: RunRequest, output: str, probe: bool = False) -> str:
    """The dry-run: everything rendered, nothing changed, nothing recorded. With `probe`,
    the SLI and the read-only steps are read first."""

    if probe:  # it runs the read-only steps: commands, as the playbook declares them
        check_playbook_owner(request.file, executes=True)
    prepared = prepare(request, run_id="dry-run", mode="dry-run")
    probed = None
    if probe:
        probed = probe_plan(prepared)
        prepared.plan = probed.plan
    render = render_plan_json if output == "json" else render_plan_text
    return prepared.redactor.redact(render(prepared.playbook, prepared.plan, probed))
