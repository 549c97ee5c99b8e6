"""`runbook validate PATH…`: check playbook files (or directories of them)."""

from __future__ import annotations

import sys

import click

from engine.cli.completion import complete_playbooks
from engine.cli.params import OUTPUT
from engine.ui.terminal_text import say


@click.command()
@click.argument(
    "paths", nargs=-1, required=True, type=click.Path(), shell_complete=complete_playbooks
)
@click.option("--strict", is_flag=True, help="Treat warnings as errors.")
@click.option("--output", "-o", type=OUTPUT, default="text", show_default=True)
def validate(paths: tuple[str, ...], strict: bool, output: str) -> None:
    """Check playbook files (or directories of them). Exit 0 valid, 1 invalid, 2 usage."""
    from engine.modes import validate as command

    reports = command.validate(paths)
    render = command.render_json if output == "json" else command.render_text
    say(render(reports, strict))
    sys.exit(int(command.exit_code(reports, strict)))
