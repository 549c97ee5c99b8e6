"""`runbook show PLAYBOOK|RUN_ID`: a playbook's summary, or a run's timeline."""

from __future__ import annotations

import click

from engine.cli.completion import complete_playbook_or_run
from engine.cli.params import OUTPUT
from engine.ui.terminal_text import say


@click.command()
@click.argument("target", shell_complete=complete_playbook_or_run)
@click.option("--output", "-o", type=OUTPUT, default="text", show_default=True)
def show(target: str, output: str) -> None:
    """Describe a playbook file, or the timeline of a run (by run id)."""
    from engine.modes.show import show as command

    say(command(target, output))
