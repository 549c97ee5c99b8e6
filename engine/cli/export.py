"""`runbook export RUN_ID -o FILE.tar.gz`: a run's replay bundle."""

from __future__ import annotations

import click

from engine.cli.completion import complete_run_ids
from engine.ui.terminal_text import say


@click.command()
@click.argument("run_id", shell_complete=complete_run_ids)
@click.option(
    "--output",
    "-o",
    "output",
    required=True,
    type=click.Path(dir_okay=False),
    help="The bundle file to write (FILE.tar.gz).",
)
@click.option("--force", is_flag=True, help="Replace the file if it exists.")
def export(run_id: str, output: str, force: bool) -> None:
    """Write a run's (or a drill's) replay bundle: its manifest, events, SLI samples and
    playbook text, each with its sha256, secrets scrubbed. Exit 0 written; 2 for an
    unknown run or a file that exists (nothing written)."""
    from engine.modes.bundle.export import ExportRequest, export_bundle

    done = export_bundle(ExportRequest(run_id, output, force))
    say(f"wrote {done.path}: run {done.run_id}, {len(done.members) + 1} files, {done.size} bytes")
