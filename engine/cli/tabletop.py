"""`runbook tabletop PLAYBOOK`: a walk-through that executes nothing, and its report."""

from __future__ import annotations

import sys

import click

from engine.cli.completion import complete_playbooks
from engine.cli.params import INPUT, OUTPUT
from engine.ui.terminal_text import say


@click.command()
@click.argument(
    "playbook", type=click.Path(exists=True, dir_okay=False), shell_complete=complete_playbooks
)
@INPUT
@click.option(
    "--participant",
    "participants",
    multiple=True,
    metavar="NAME",
    help="Who takes part (repeatable) [default: asked, or the answers file's].",
)
@click.option(
    "--answers",
    "answers_file",
    type=click.Path(exists=True, dir_okay=False),
    help="Take the answers from this YAML file instead of a terminal.",
)
@click.option(
    "--report",
    "report_file",
    type=click.Path(dir_okay=False),
    metavar="FILE.md",
    help="Also write the report as Markdown to this file (0600).",
)
@click.option("--output", "-o", type=OUTPUT, default="text", show_default=True)
def tabletop(
    playbook: str,
    inputs: tuple[str, ...],
    participants: tuple[str, ...],
    answers_file: str | None,
    report_file: str | None,
    output: str,
) -> None:
    """Tabletop exercise: walk through every step, rendered, and record for each whether
    the participants would do it, find it unclear or are blocked, and why. Nothing is
    executed or read: no SLI probe, no command, no connection, no secret.

    Exit 0 recorded, 2 bad input or no terminal without --answers (nothing recorded),
    130 stopped (recorded as aborted with the answers so far)."""
    from engine.modes.tabletop.report import render_json, render_text
    from engine.modes.tabletop.session import TabletopRequest, run_tabletop
    from engine.playbook.inputs import parse_assignments
    from engine.ui.tabletop import TerminalTabletop

    request = TabletopRequest(
        file=playbook,
        inputs=parse_assignments(inputs),
        participants=tuple(name.strip() for name in participants if name.strip()),
        answers_file=answers_file,
        report_file=report_file,
    )
    # The questions go where a person reads them: stderr when stdout is the JSON report
    # or not the terminal (a file, a pipe).
    questions_on_stderr = output == "json" or not sys.stdout.isatty()
    terminal = TerminalTabletop(err=questions_on_stderr) if sys.stdin.isatty() else None
    done = run_tabletop(request, terminal)
    say(render_json(done) if output == "json" else render_text(done))
    sys.exit(done.exit_code)
