"""`runbook run PLAYBOOK`: steps in order, undo in reverse on failure."""

from __future__ import annotations

import sys

import click

from engine.cli.completion import complete_playbooks
from engine.cli.options import run_and_exit_code
from engine.cli.params import INCIDENT, INPUT, INVENTORY, OUTPUT, WAIT_LOCK, crash_redactions
from engine.cli.plan import print_plan


@click.command()
@click.argument(
    "playbook", type=click.Path(exists=True, dir_okay=False), shell_complete=complete_playbooks
)
@INPUT
@INVENTORY
@click.option("--dry-run", is_flag=True, help="Show what would run; change nothing.")
@click.option("--probe", is_flag=True, help="With --dry-run: read the SLI, run read-only steps.")
@click.option("--yes", "-y", "assume_yes", is_flag=True, help="Pre-approve confirm gates.")
@click.option("--force", is_flag=True, help="Run even if the SLI pre-check says healthy.")
@click.option("--quiet", "-q", is_flag=True, help="Print only the outcome.")
@click.option("--output", "-o", type=OUTPUT, default="text", show_default=True)
@WAIT_LOCK
@INCIDENT
def run(
    playbook: str,
    inputs: tuple[str, ...],
    inventory: str | None,
    dry_run: bool,
    probe: bool,
    assume_yes: bool,
    force: bool,
    quiet: bool,
    output: str,
    wait_lock: str | None,
    incident: str | None,
) -> None:
    """Run a playbook: steps in order, undo in reverse on failure, stop once the SLI recovers."""
    if dry_run:
        print_plan(playbook, inputs, output, probe, inventory)
        return
    redactions = crash_redactions()
    sys.exit(
        run_and_exit_code(
            *(playbook, inputs, inventory, assume_yes, force, quiet, output, wait_lock),
            redactions,
            incident,
        )
    )
