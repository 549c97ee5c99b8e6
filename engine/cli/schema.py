"""`runbook schema`: the JSON Schema of the playbook format."""

from __future__ import annotations

import click


@click.command()
def schema() -> None:
    """Print the JSON Schema of the playbook format."""
    from engine.playbook.schema_file import schema_text

    click.echo(schema_text(), nl=False)
