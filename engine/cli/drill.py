"""`runbook drill PLAYBOOK`: a game day, and its report; `--case CASE.yaml`: a drill of
a regression case, or (`--dry-run`) its path checked without side effects."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import click

from engine.cli.completion import complete_playbooks
from engine.cli.options import incident_listeners, make_listeners, make_request, wait_seconds
from engine.cli.params import INCIDENT, INPUT, INVENTORY, OUTPUT, WAIT_LOCK, crash_redactions
from engine.ui.terminal_text import say

if TYPE_CHECKING:
    from engine.core.events import Listener
    from engine.modes.drill.game_day import CaseCheck
    from engine.modes.drill.verdict import DrillReport
    from engine.run.preflight import RunRequest

REPLACE = "--replace-html"


@click.command()
@click.argument(
    "playbook",
    required=False,
    type=click.Path(exists=True, dir_okay=False),
    shell_complete=complete_playbooks,
)
@INPUT
@INVENTORY
@click.option("--yes", "-y", "assume_yes", is_flag=True, help="Pre-approve confirm gates.")
@click.option("--output", "-o", type=OUTPUT, default="text", show_default=True)
@click.option("--quiet", "-q", is_flag=True, help="Print only the report.")
@WAIT_LOCK
@click.option(
    "--case",
    "case_file",
    type=click.Path(exists=True, dir_okay=False),
    help="A regression case (runbook regress): its inputs, alert and expectation.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="With --case: check the playbook would take the same path; change nothing.",
)
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
@INCIDENT
def drill(
    playbook: str | None,
    inputs: tuple[str, ...],
    inventory: str | None,
    assume_yes: bool,
    output: str,
    quiet: bool,
    wait_lock: str | None,
    case_file: str | None,
    dry_run: bool,
    html: str | None,
    force: bool,
    incident: str | None,
) -> None:
    """Game day: inject the playbook's fault, time detection and recovery, always revert.

    Exit 0 passed, 3 not detected / not recovered, 1 inject failed, 4 revert failed,
    5 refused (SLI not healthy before; 2: the playbook fails its checks), 130
    interrupted. With --case CASE.yaml (PLAYBOOK defaults to the case's): the case's
    inputs and alert, and its expectation judged too (1: one did not hold); with
    --dry-run, exit 0 same path, 1 another path (a case of a failed run: 1 while the
    playbook that failed is unchanged), 2 an invalid case or playbook. With --html FILE,
    the report is also written as a page with the SLI chart (detection, remediation and
    revert on one time axis)."""
    from engine.core.errors import UsageError
    from engine.core.output_file import check_output

    if html is not None:
        if dry_run:
            raise UsageError("--html needs a drill, not --dry-run", "leave out --html")
        check_output(Path(html), force, REPLACE)  # before the drill: a report it could not write
    if incident is not None and dry_run:
        raise UsageError("--incident needs a drill, not --dry-run", "leave out --incident")
    attach = incident_listeners(incident)  # an unknown incident: refused before the drill
    if case_file is None:
        if dry_run:
            raise UsageError("--dry-run needs --case", "runbook plan PLAYBOOK is a drill's dry run")
        if playbook is None:
            raise UsageError("give a PLAYBOOK or --case CASE.yaml", "runbook drill --help")
        request = make_request(playbook, inputs, crash_redactions(), assume_yes=assume_yes,
                               inventory=inventory, wait_lock=wait_seconds(wait_lock))  # fmt: skip
        _drill(request, output, quiet, _Page(html, force), attach)
    elif dry_run:
        _dry_case(case_file, playbook, inputs, output)
    else:
        from engine.modes.regress.judge import CaseJudge, case_inputs
        from engine.modes.regress.read import read_case
        from engine.playbook.inputs import parse_assignments

        read = read_case(case_file)
        given = case_inputs(read.case, parse_assignments(inputs))
        request = make_request(
            read.playbook_file(playbook),
            tuple(f"{name}={value}" for name, value in given.items()),
            crash_redactions(),
            assume_yes=assume_yes,
            inventory=inventory,
            wait_lock=wait_seconds(wait_lock),
            alert=read.case.fault_context.alert.namespace(),
        )
        _drill(request, output, quiet, _Page(html, force), attach, CaseJudge(read))


class _Page(NamedTuple):
    """Where `--html` writes the drill's page, and whether it may replace a file."""

    html: str | None
    force: bool


def _drill(
    request: RunRequest,
    output: str,
    quiet: bool,
    page: _Page,
    attach: list[Listener],
    case: CaseCheck | None = None,
) -> None:
    """Run the drill, print its report (also when an error ended it), write its page."""
    from engine.modes.drill.verdict import DrillRefused, DrillStopped

    try:
        report = _report(request, output, quiet, attach, case)
    except (DrillRefused, DrillStopped) as ended:
        _write_html(ended.report, page)
        raise
    _write_html(report, page)
    sys.exit(int(report.exit_code))


def _report(
    request: RunRequest, output: str, quiet: bool, attach: list[Listener], case: CaseCheck | None
) -> DrillReport:
    from engine.modes.drill import report as command
    from engine.modes.drill.game_day import run_drill
    from engine.modes.drill.verdict import DrillRefused, DrillStopped

    if output == "json":
        try:
            report = run_drill(request, lambda: list(attach), case)
        except (DrillRefused, DrillStopped) as ended:  # stdout: one report; stderr: why
            say(command.render_json(ended.report))
            raise
        say(command.render_json(report))
    else:
        from engine.ui.display import PromptLines

        lines = PromptLines(sys.stdout)  # one for the drill's runs: one flushing thread
        try:
            report = run_drill(request, lambda: make_listeners("text", quiet, lines) + attach, case)
        except DrillStopped as stopped:  # under way: its report, as at any end
            say(command.render_text(stopped.report))
            raise
        say(command.render_text(report))
    return report


def _write_html(report: DrillReport, page: _Page) -> None:
    """The drill's HTML report, when asked for and the drill was recorded."""
    from engine.modes.postmortem.draft_file import write_drill_html

    if page.html is None or report.drill_id is None:
        return
    write_drill_html(report.drill_id, Path(page.html), page.force, REPLACE)
    click.echo(f"wrote {page.html}", err=True)


def _dry_case(case_file: str, playbook: str | None, inputs: tuple[str, ...], output: str) -> None:
    """The case's path checked against the playbook's plan: nothing runs or is recorded."""
    from engine.modes.regress.judge import check_case
    from engine.modes.regress.read import read_case
    from engine.modes.regress.report import render_dry_json, render_dry_text
    from engine.playbook.inputs import parse_assignments

    read = read_case(case_file)
    check = check_case(read, read.playbook_file(playbook), parse_assignments(inputs))
    say(render_dry_json(check) if output == "json" else render_dry_text(check))
    sys.exit(int(check.exit_code))
