"""`runbook triggers`: what `runbook serve` decided on each alert, and why."""

from __future__ import annotations

import time

import click

from engine.cli.params import OUTPUT
from engine.ui.terminal_text import say

DECISIONS = (
    "run",
    "proposed",
    "suggested",
    "duplicate",
    "resolved",
    "no_match",
    "bad_input",
    "refused",
    "busy",
    "cooldown",
    "budget_exhausted",
    "flapping",
)


@click.command()
@click.option("--decision", "-d", type=click.Choice(DECISIONS), help="Only this decision.")
@click.option("--since", metavar="DURATION", help="Only decisions in the last DURATION (30m, 24h).")
@click.option("--limit", "-n", default=20, show_default=True)
@click.option("--output", "-o", type=OUTPUT, default="text", show_default=True)
def triggers(decision: str | None, since: str | None, limit: int, output: str) -> None:
    """Every decision on an alert, newest first: what ran, and why the others did not."""
    from engine.core.durations import parse_duration
    from engine.modes.triggers import list_triggers

    start = None
    if since is not None:
        try:
            start = time.time() - parse_duration(since)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--since") from None
    say(list_triggers(decision, start, limit, output))


@click.command()
@click.option("--limit", "-n", default=20, show_default=True)
@click.option("--output", "-o", type=OUTPUT, default="text", show_default=True)
def escalations(limit: int, output: str) -> None:
    """What runbook serve escalated, newest first, and whether it was delivered."""
    from engine.modes.triggers import list_escalations

    say(list_escalations(limit, output))
