"""`runbook runs`: the history of runs, newest first."""

from __future__ import annotations

import click

from engine.cli.params import OUTPUT
from engine.core.outcome import Outcome
from engine.core.run_modes import RUN_MODES
from engine.ui.terminal_text import say


@click.command()
@click.option("--playbook", "-p", help="Only runs of this playbook.")
@click.option(
    "--outcome",
    type=click.Choice([outcome.value for outcome in Outcome]),
    help="Only runs with this outcome.",
)
@click.option(
    "--mode",
    type=click.Choice(RUN_MODES),
    help="Only runs of this mode (`drill`: the inject, remediate and revert runs of drills).",
)
@click.option("--limit", "-n", default=20, show_default=True)
@click.option("--output", "-o", type=OUTPUT, default="text", show_default=True)
def runs(
    playbook: str | None, outcome: str | None, mode: str | None, limit: int, output: str
) -> None:
    """The history of runs, newest first, each with its parent (the drill a drill's run
    belongs to, the run a rollback undid). `runbook drills` lists the drills."""
    from engine.modes.history import list_runs

    say(list_runs(playbook, outcome, mode, limit, output))
