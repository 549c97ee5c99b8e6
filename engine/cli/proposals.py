"""`runbook proposals` and `runbook approve`: level-2 runs an alert asked for."""

from __future__ import annotations

import sys

import click
from msgspec.structs import replace

from engine.cli.params import OUTPUT, crash_redactions
from engine.ui.terminal_text import say


@click.command()
@click.option("--all", "show_all", is_flag=True, help="Also expired, approved and resolved ones.")
@click.option("--output", "-o", type=OUTPUT, default="text", show_default=True)
def proposals(show_all: bool, output: str) -> None:
    """Level-2 playbooks alerts asked for, waiting for a human: `runbook approve ID`."""
    from engine.hooks.proposals import list_proposals
    from engine.modes.history import open_ledger

    with open_ledger() as ledger:
        say(list_proposals(ledger, show_all, output))


@click.command()
@click.argument("proposal")
@click.option("--yes", "-y", "assume_yes", is_flag=True, help="Approve without asking.")
@click.option("--quiet", "-q", is_flag=True, help="Print only the outcome.")
@click.option("--output", "-o", type=OUTPUT, default="text", show_default=True)
def approve(proposal: str, assume_yes: bool, quiet: bool, output: str) -> None:
    """Show a proposal's plan, then run it as you (at a terminal it asks first)."""
    from engine.cli.options import make_listeners, warn
    from engine.core.errors import RefusedError
    from engine.hooks.proposals import open_proposal
    from engine.ledger import new_run_id
    from engine.modes.history import open_ledger
    from engine.modes.plan import plan_playbook
    from engine.modes.run import execute_prepared
    from engine.run.preflight import prepare
    from engine.ui.operator import has_terminal

    interactive = has_terminal()
    redactions = crash_redactions()
    with open_ledger() as ledger:
        found = open_proposal(ledger, proposal, interactive)
    request = found.request if redactions is None else replace(found.request, redactions=redactions)
    say(plan_playbook(replace(request, dry_run=True), output))
    if not assume_yes:
        if not interactive:
            raise RefusedError("no terminal to ask for approval", "pass --yes to approve")
        if not click.confirm(f"Approve {found.trigger.trigger_id} and run it now?"):
            raise RefusedError(f"{found.trigger.trigger_id} not approved: nothing ran")
    run_id = new_run_id()
    # prepared before the proposal is marked approved: a file changed since the plan was
    # shown is refused here, and the proposal stays open
    prepared = prepare(replace(request, assume_yes=assume_yes), run_id, mode="live")
    with open_ledger() as ledger:
        if not ledger.approve_proposal(found.trigger.trigger_id, run_id):
            raise RefusedError(
                f"proposal {found.trigger.trigger_id} was approved, resolved or expired meanwhile",
                "`runbook proposals --all` shows what became of it",
            )
    result = execute_prepared(prepared, run_id, make_listeners(output, quiet), warn=warn)
    sys.exit(int(result.outcome.exit_code))
