"""`runbook list DIRECTORY`: the playbooks there and what they do."""

from __future__ import annotations

import click

from engine.ui.terminal_text import say


@click.command("list")
@click.argument("directory", default="playbooks", type=click.Path(exists=True, file_okay=False))
def list_playbooks(directory: str) -> None:
    """List the playbooks under DIRECTORY."""
    from engine.modes.catalog import list_rows, table

    header = ("NAME", "VERSION", "MATURITY", "OWNER", "STEPS", "FILE")
    say(table(header, list_rows(directory)))
