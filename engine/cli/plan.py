"""`runbook plan PLAYBOOK` (and `run --dry-run`): every step rendered, nothing changed."""

from __future__ import annotations

import click

from engine.cli.completion import complete_playbooks
from engine.cli.options import make_request
from engine.cli.params import INPUT, INVENTORY, OUTPUT, crash_redactions
from engine.ui.terminal_text import say


@click.command()
@click.argument(
    "playbook", type=click.Path(exists=True, dir_okay=False), shell_complete=complete_playbooks
)
@INPUT
@INVENTORY
@click.option("--probe", is_flag=True, help="Also read the SLI and run read-only steps.")
@click.option("--output", "-o", type=OUTPUT, default="text", show_default=True)
def plan(
    playbook: str, inputs: tuple[str, ...], inventory: str | None, probe: bool, output: str
) -> None:
    """Dry-run: every step rendered with its undo and a verdict; nothing changed."""
    print_plan(playbook, inputs, output, probe, inventory)


def print_plan(
    playbook: str, inputs: tuple[str, ...], output: str, probe: bool, inventory: str | None = None
) -> None:
    from engine.modes.plan import plan_playbook

    request = make_request(playbook, inputs, crash_redactions(), dry_run=True, inventory=inventory)
    say(plan_playbook(request, output, probe, warn=lambda text: click.echo(text, err=True)))
