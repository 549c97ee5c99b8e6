"""`runbook schema`: the JSON Schema of the playbook format; `--case`: of a regression
case file (what `runbook regress` writes)."""

from __future__ import annotations

import click


@click.command()
@click.option(
    "--case",
    "of_case",
    is_flag=True,
    help="The schema of a regression case file (runbook regress) instead.",
)
def schema(of_case: bool) -> None:
    """Print the JSON Schema of the playbook format (--case: of a regression case)."""
    if of_case:
        from engine.modes.regress.read import schema_path

        click.echo(schema_path().read_text(encoding="utf-8"), nl=False)
        return
    from engine.playbook.schema_file import schema_text

    click.echo(schema_text(), nl=False)
