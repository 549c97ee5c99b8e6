"""`runbook drill PLAYBOOK`: a game day, and its report."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from engine.cli.completion import complete_playbooks
from engine.cli.options import make_listeners, make_request, wait_seconds
from engine.cli.params import INPUT, INVENTORY, OUTPUT, WAIT_LOCK, crash_redactions
from engine.ui.terminal_text import say

if TYPE_CHECKING:
    from engine.modes.drill.verdict import DrillReport

REPLACE = "--replace-html"


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
@click.option(
    "--html",
    "html",
    type=click.Path(dir_okay=False),
    help="Also write the report as one HTML page with the SLI chart (owner-only).",
)
@click.option(
    REPLACE,
    "force",
    is_flag=True,
    help="Replace the --html file if it exists.",
)
def drill(
    playbook: str,
    inputs: tuple[str, ...],
    inventory: str | None,
    assume_yes: bool,
    output: str,
    quiet: bool,
    wait_lock: str | None,
    html: str | None,
    force: bool,
) -> None:
    """Game day: inject the playbook's fault, time detection and recovery, always revert.

    Exit 0 passed, 3 not detected / not recovered, 1 inject failed, 4 revert failed,
    5 refused (SLI not healthy before; 2: the playbook fails its checks), 130
    interrupted. With --html FILE, the report is also written as a page with the SLI
    chart (detection, remediation and revert on one time axis)."""
    from engine.modes.drill.verdict import DrillRefused, DrillStopped
    from engine.modes.postmortem.draft_file import check_target

    if html is not None:
        check_target(Path(html), force, REPLACE)  # before the drill: a report it could not write
    try:
        report = _drill(playbook, inputs, inventory, assume_yes, output, quiet, wait_lock)
    except (DrillRefused, DrillStopped) as ended:
        _write_html(ended.report, html, force)
        raise
    _write_html(report, html, force)
    sys.exit(int(report.exit_code))


def _drill(
    playbook: str,
    inputs: tuple[str, ...],
    inventory: str | None,
    assume_yes: bool,
    output: str,
    quiet: bool,
    wait_lock: str | None,
) -> DrillReport:
    """Run the drill and print its report (also when an error ended it)."""
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
    if output == "json":
        try:
            report = run_drill(request)
        except (DrillRefused, DrillStopped) as ended:  # stdout: one report; stderr: why
            say(command.render_json(ended.report))
            raise
        say(command.render_json(report))
    else:
        from engine.ui.display import PromptLines

        lines = PromptLines(sys.stdout)  # one for the drill's runs: one flushing thread
        try:
            report = run_drill(request, lambda: make_listeners("text", quiet, lines))
        except DrillStopped as stopped:  # under way: its report, as at any end
            say(command.render_text(stopped.report))
            raise
        say(command.render_text(report))
    return report


def _write_html(report: DrillReport, html: str | None, force: bool) -> None:
    """The drill's HTML report, when asked for and the drill was recorded."""
    from engine.modes.postmortem.draft_file import write_drill_html

    if html is None or report.drill_id is None:
        return
    write_drill_html(report.drill_id, Path(html), force, REPLACE)
    click.echo(f"wrote {html}", err=True)
