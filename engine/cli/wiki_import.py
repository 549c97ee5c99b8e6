"""`runbook import RUNBOOK.md`: a Markdown wiki runbook as a level-1 playbook."""

from __future__ import annotations

import click


@click.command(name="import")
@click.argument("source", type=click.Path(dir_okay=False))
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False),
    help="Write the playbook to this file (default: print it).",
)
@click.option("--force", is_flag=True, help="Replace the output file if it exists.")
@click.option("--owner", default="", help="Who maintains the playbook (metadata.owner).")
def import_runbook(source: str, output: str | None, force: bool, owner: str) -> None:
    """Turn a Markdown wiki runbook into a level-1 playbook of manual steps.

    One step per section (or per item of its list of steps), with its instructions,
    the commands to run by hand and the expected result. Exit 0 written, 2 when the
    file cannot be imported or the output file exists (nothing written)."""
    from engine.modes.wiki_import import ImportRequest, import_wiki

    imported = import_wiki(ImportRequest(source, output, force, owner))
    if imported.written is None:
        click.echo(imported.text, nl=False)
    else:
        click.echo(f"wrote {imported.written}: {imported.steps} step(s), maturity 1", err=True)
