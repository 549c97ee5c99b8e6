"""`runbook drill PLAYBOOK`: a game day, and its report."""

from __future__ import annotations

import sys

import click

from engine.cli.completion import complete_playbooks
from engine.cli.options import incident_listeners, make_listeners, make_request, wait_seconds
from engine.cli.params import INCIDENT, INPUT, INVENTORY, OUTPUT, WAIT_LOCK, crash_redactions
from engine.ui.terminal_text import say


@click.command()
@click.argument(
    "playbook", type=click.Path(exists=True, dir_okay=False), shell_complete=complete_playbooks
)
@INPUT
@INVENTORY
@click.option("--yes", "-y", "assume_yes", is_flag=True, help="Pre-approve confirm gates.")
@click.option("--output", "-o", type=OUTPUT, default="text", show_default=True)
@click.option("--quiet", "-q", is_flag=True, help="Print only the report.")
@WAIT_LOCK
@INCIDENT
def drill(
    playbook: str,
    inputs: tuple[str, ...],
    inventory: str | None,
    assume_yes: bool,
    output: str,
    quiet: bool,
    wait_lock: str | None,
    incident: str | None,
) -> None:
    """Game day: inject the playbook's fault, time detection and recovery, always revert.

    Exit 0 passed, 3 not detected / not recovered, 1 inject failed, 4 revert failed,
    5 refused (SLI not healthy before; 2: the playbook fails its checks), 130
    interrupted."""
    from engine.modes.drill import report as command
    from engine.modes.drill.game_day import run_drill
    from engine.modes.drill.verdict import DrillRefused, DrillStopped

    request = make_request(
        playbook,
        inputs,
        crash_redactions(),
        assume_yes=assume_yes,
        inventory=inventory,
        wait_lock=wait_seconds(wait_lock),
    )
    attach = incident_listeners(incident)
    if output == "json":
        try:
            report = run_drill(request, lambda: list(attach))
        except (DrillRefused, DrillStopped) as ended:  # stdout: one report; stderr: why
            say(command.render_json(ended.report))
            raise
        say(command.render_json(report))
    else:
        from engine.ui.display import PromptLines

        lines = PromptLines(sys.stdout)  # one for the drill's runs: one flushing thread
        try:
            report = run_drill(request, lambda: make_listeners("text", quiet, lines) + attach)
        except DrillStopped as stopped:  # under way: its report, as at any end
            say(command.render_text(stopped.report))
            raise
        say(command.render_text(report))
    sys.exit(int(report.exit_code))
