"""`runbook postmortem RUN_ID|DRILL_ID|INCIDENT_ID`: a blameless postmortem draft from
the record."""

from __future__ import annotations

import click

from engine.cli.completion import complete_run_or_incident_ids


@click.command()
@click.argument(
    "story_id", metavar="RUN_ID|DRILL_ID|INCIDENT_ID", shell_complete=complete_run_or_incident_ids
)
@click.option(
    "--format",
    "-f",
    "format_",
    type=click.Choice(["md", "html"]),
    default="md",
    show_default=True,
    help="Markdown, or one HTML page with the SLI chart.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False),
    help="Write the draft to this file, owner-only (default: print it).",
)
@click.option("--force", is_flag=True, help="Replace the output file if it exists.")
def postmortem(story_id: str, format_: str, output: str | None, force: bool) -> None:
    """A blameless postmortem draft of a run, a drill or an incident, from the ledger.

    Each field is marked filled from the record, set by a human (an incident's times) or
    to be written by a human. Exit 0
    written, 2 for an id the ledger does not hold or an output file that exists."""
    from engine.modes.postmortem.draft_file import PostmortemRequest
    from engine.modes.postmortem.draft_file import postmortem as command

    written = command(PostmortemRequest(story_id, format_, output, force))
    if output is None:
        click.echo(written, nl=False)
    else:
        click.echo(f"wrote {written}", err=True)
