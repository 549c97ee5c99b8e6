"""`runbook incident …` (open, note, set, attach, resolve) and `runbook incidents`."""

from __future__ import annotations

import time

import click

from engine.cli.completion import complete_incident_ids, complete_run_ids
from engine.cli.params import OUTPUT
from engine.ui.terminal_text import say

TIME = "T"  # the metavar of a time: RFC 3339 with its zone, or `now`
# what `--clear` takes (engine.ledger.incident_times.TIMES, not imported by --help)
TIMES = ("impact_started", "detected", "response_started", "mitigated", "resolved")


@click.group()
def incident() -> None:
    """Incidents: the alerts, runs, proposals and notes that belong together, and their times."""


@incident.command("open")
@click.option("--title", required=True, help="What is wrong, in a few words.")
@click.option("--severity", default="", help="e.g. critical, sev2.")
@click.option("--playbook", default="", metavar="NAME", help="The playbook that answers it.")
def open_(title: str, severity: str, playbook: str) -> None:
    """Open an incident by hand; prints its id."""
    from engine.modes.incidents import open_incident

    say(open_incident(title, severity, playbook))


@incident.command()
@click.argument("incident_id", shell_complete=complete_incident_ids)
@click.argument("text")
def note(incident_id: str, text: str) -> None:
    """Add a note (what you saw, what you did) to an incident."""
    from engine.modes.incidents import note as add_note

    say(add_note(incident_id, text))


@incident.command("set")
@click.argument("incident_id", shell_complete=complete_incident_ids)
@click.option("--impact-started", metavar=TIME, help="When users were first hurt.")
@click.option("--detected", metavar=TIME, help="When it was noticed.")
@click.option("--response-started", metavar=TIME, help="When someone started on it.")
@click.option("--mitigated", metavar=TIME, help="When the harm stopped.")
@click.option("--resolved", metavar=TIME, help="When it was over.")
@click.option(
    "--clear",
    multiple=True,
    type=click.Choice(TIMES),
    help="Take back a time set by a human: the record's applies again (repeatable).",
)
def set_(incident_id: str, clear: tuple[str, ...], **times: str | None) -> None:
    """Set lifecycle times (RFC 3339 or `now`); they must keep their order."""
    from engine.modes.incidents import set_times

    say(set_times(incident_id, times, clear))


@incident.command()
@click.argument("incident_id", shell_complete=complete_incident_ids)
@click.argument("run_id", shell_complete=complete_run_ids)
def attach(incident_id: str, run_id: str) -> None:
    """Make a run (e.g. one started by hand) a member of an incident."""
    from engine.modes.incidents import attach as attach_run

    say(attach_run(incident_id, run_id))


@incident.command()
@click.argument("incident_id", shell_complete=complete_incident_ids)
@click.option("--at", default="now", show_default=True, metavar=TIME, help="When it was over.")
def resolve(incident_id: str, at: str) -> None:
    """Resolve an incident as a human."""
    from engine.modes.incidents import resolve as resolve_incident

    say(resolve_incident(incident_id, at))


@click.command()
@click.option("--all", "show_all", flag_value=True, default=False, help="Also resolved ones.")
@click.option("--open", "show_all", flag_value=False, help="Only the open ones (the default).")
@click.option("--since", metavar="DURATION", help="Only those opened in the last DURATION (30d).")
@click.option("--limit", "-n", default=50, show_default=True, type=click.IntRange(min=1))
@click.option("--output", "-o", type=OUTPUT, default="text", show_default=True)
def incidents(show_all: bool, since: str | None, limit: int, output: str) -> None:
    """Incidents, newest first: status, times to detect, mitigate and resolve, members."""
    from engine.core.durations import parse_duration
    from engine.modes.incidents import list_incidents

    start = None
    if since is not None:
        try:
            start = time.time() - parse_duration(since)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--since") from None
    say(list_incidents(show_all, start, limit, output))
