"""What several commands share: their options, and where their runs register secrets."""

from __future__ import annotations

import click

from engine.core.redactions import Redactions

OUTPUT = click.Choice(["text", "json"])


INPUT = click.option(
    "-i",
    "--input",
    "inputs",
    multiple=True,
    metavar="NAME=VALUE",
    help="Set an input (repeatable).",
)


INVENTORY = click.option(
    "--inventory",
    envvar="RUNBOOK_INVENTORY",
    type=click.Path(dir_okay=False),
    help="SSH hosts file [default: inventory.yaml beside the playbook; env RUNBOOK_INVENTORY].",
)


INCIDENT = click.option(
    "--incident",
    metavar="ID",
    help="Make the run a member of this incident (runbook incidents lists them).",
)


WAIT_LOCK = click.option(
    "--wait-lock",
    metavar="DURATION",
    help="Wait up to DURATION (30s, 5m) for a target another run holds [default: refuse at once].",
)


def crash_redactions() -> Redactions | None:
    """Where a command's runs register their secrets: the error handler's `Redactions`,
    which `engine.cli.main` hands to click as the context object (None when not run that way)."""
    found = click.get_current_context().obj
    return found if isinstance(found, Redactions) else None
