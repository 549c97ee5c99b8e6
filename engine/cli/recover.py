"""`runbook recover`: mark the runs whose engine died as interrupted."""

from __future__ import annotations

import click

from engine.ui.terminal_text import say


@click.command()
def recover() -> None:
    """Find runs whose engine died and mark them interrupted."""
    from engine.modes.history import recover as command

    say(command())
