"""`runbook show PLAYBOOK|RUN_ID|DRILL_ID|INCIDENT_ID`: a playbook's summary, a run's
timeline, a drill's report, or an incident."""

from __future__ import annotations

import click

from engine.cli.completion import complete_playbook_or_run
from engine.cli.params import OUTPUT
from engine.ui.terminal_text import say


@click.command()
@click.argument("target", shell_complete=complete_playbook_or_run)
@click.option("--output", "-o", type=OUTPUT, default="text", show_default=True)
def show(target: str, output: str) -> None:
    """Describe a playbook file, the timeline of a run, a drill, or an incident (by id)."""
    from engine.modes.show import show as command

    say(command(target, output))
