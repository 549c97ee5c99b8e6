"""`runbook drills`: the drills kept in the ledger, newest first."""

from __future__ import annotations

import click

from engine.cli.params import OUTPUT
from engine.ui.terminal_text import say


@click.command()
@click.option(
    "--playbook",
    "-p",
    help="Only drills of this playbook: its name, or its file (also drills refused before "
    "its name could be read).",
)
@click.option("--limit", "-n", default=20, show_default=True)
@click.option("--output", "-o", type=OUTPUT, default="text", show_default=True)
def drills(playbook: str | None, limit: int, output: str) -> None:
    """The drills, newest first: verdict, time to detect and to recover.

    `runbook show DRILL_ID` replays a drill's report."""
    from engine.modes.drill.history import list_drills

    say(list_drills(playbook, limit, output))
