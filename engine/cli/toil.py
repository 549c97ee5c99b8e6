"""`runbook toil`: the human time each playbook cost over a window, ranked."""

from __future__ import annotations

import click

from engine.cli.params import OUTPUT
from engine.ui.terminal_text import say


@click.command()
@click.option(
    "--since",
    metavar="PERIOD",
    default="30d",
    show_default=True,
    help="Count the runs of the last PERIOD (12h, 30d, 2w).",
)
@click.option("--output", "-o", type=OUTPUT, default="text", show_default=True)
def toil(since: str, output: str) -> None:
    """Per playbook, the runs humans did or supervised (levels 1 and 2), the human time
    they took, how often, and which to automate next: most human time per week first."""
    from engine.core.durations import parse_period
    from engine.modes.toil_report import show_toil

    try:
        period = parse_period(since)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from None
    say(show_toil(period, since, output))
