"""`runbook locks`: the target locks runs hold now."""

from __future__ import annotations

import click

from engine.cli.params import OUTPUT


@click.command()
@click.option("--output", "-o", type=OUTPUT, default="text", show_default=True)
def locks(output: str) -> None:
    """The target locks runs hold now (also those of dead or expired owners)."""
    from engine.modes.locks import list_locks

    click.echo(list_locks(output))
