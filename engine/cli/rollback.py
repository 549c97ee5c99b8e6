"""`runbook rollback RUN_ID`: show the undo plan, ask, undo."""

from __future__ import annotations

import sys

import click

from engine.cli.completion import complete_run_ids
from engine.cli.options import make_listeners, wait_seconds
from engine.cli.params import INVENTORY, OUTPUT, WAIT_LOCK, crash_redactions
from engine.core.redactions import Redactions


@click.command()
@click.argument("run_id", shell_complete=complete_run_ids)
@INVENTORY
@click.option("--dry-run", is_flag=True, help="Only show the undo plan; undo nothing.")
@click.option(
    "--yes", "-y", "assume_yes", is_flag=True, help="Undo without asking; pre-approve gates."
)
@click.option("--output", "-o", type=OUTPUT, default="text", show_default=True)
@WAIT_LOCK
def rollback(
    run_id: str,
    inventory: str | None,
    dry_run: bool,
    assume_yes: bool,
    output: str,
    wait_lock: str | None,
) -> None:
    """Undo the completed steps of an earlier run (also an interrupted one), holding its
    targets' locks.

    Shows the undo plan first; at a terminal asks before undoing (--yes does not ask);
    without a terminal, --yes is needed. Exit 5 if the run's recorded playbook text
    does not match its content hash (nothing is undone)."""
    from engine.modes.rollback.review import rollback as command
    from engine.run.preflight import RunRequest
    from engine.ui.operator import has_terminal

    request = RunRequest(
        "",
        dry_run=dry_run,  # a preview: a secret not set is a placeholder in the plan
        interactive=has_terminal(),
        assume_yes=assume_yes,
        inventory=inventory,
        wait_lock=wait_seconds(wait_lock),
        redactions=crash_redactions() or Redactions(),
    )
    listeners = make_listeners(output, False)
    sys.exit(command(run_id, request, listeners, output, dry_run, _confirm_at_terminal))


def _confirm_at_terminal(question: str) -> bool:
    return bool(click.confirm(question, default=False))
