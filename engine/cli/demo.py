"""`runbook demo`: the self-contained demo."""

from __future__ import annotations

import sys

import click

from engine.cli.options import make_listeners
from engine.cli.params import crash_redactions


@click.command()
@click.option("--quiet", "-q", is_flag=True, help="Print only the outcomes.")
def demo(quiet: bool) -> None:
    """Run the self-contained demo: a failure rolled back, then a clean run."""
    from engine.modes.demo import run_demo

    outcome = run_demo(make_listeners("text", quiet), click.echo, crash_redactions())
    sys.exit(int(outcome.exit_code))
