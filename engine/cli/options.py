"""What the `run`-like commands build from their options: the request and the displays.

Free of click: tests, and later the webhook, build the same requests without it.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.core.events import Listener
    from engine.core.redactions import Redactions
    from engine.run.preflight import RunRequest
    from engine.ui.display import PromptLines


def make_request(
    playbook: str,
    inputs: tuple[str, ...],
    redactions: Redactions | None = None,
    **options: object,
) -> RunRequest:
    """The request for `playbook` with `NAME=VALUE` inputs, at a terminal or not; its
    secrets are registered in `redactions` (the error handler's) when given."""
    from engine.playbook.inputs import parse_assignments
    from engine.run.preflight import RunRequest
    from engine.ui.operator import has_terminal

    if redactions is not None:
        options["redactions"] = redactions
    return RunRequest(
        file=playbook,
        inputs=parse_assignments(inputs),
        interactive=has_terminal(),
        **options,  # type: ignore[arg-type]
    )


def wait_seconds(wait_lock: str | None) -> float:
    """`--wait-lock DURATION` in seconds (0 without it: a held target refuses at once)."""
    if wait_lock is None:
        return 0.0
    from engine.core.durations import parse_duration
    from engine.core.errors import UsageError

    try:
        return parse_duration(wait_lock)
    except ValueError as exc:
        raise UsageError(f"--wait-lock: {exc}", "e.g. --wait-lock 30s or --wait-lock 5m") from None


def make_listeners(output: str, quiet: bool, lines: PromptLines | None = None) -> list[Listener]:
    """JSON lines, the terminal view (the live table, or a level-1 checklist), or plain
    lines; written through `lines` when given (a command that runs several times, as a
    drill does, shares one)."""
    from engine.ui.display import JsonLines, PlainLines

    if output == "json":
        return [JsonLines(lines)]
    if not quiet and sys.stdout.isatty() and not os.environ.get("RUNBOOK_PLAIN"):
        from engine.ui.live import TerminalView

        return [TerminalView()]
    return [PlainLines(lines, quiet=quiet)]


def run_and_exit_code(
    playbook: str,
    inputs: tuple[str, ...],
    inventory: str | None,
    assume_yes: bool,
    force: bool,
    quiet: bool,
    output: str,
    wait_lock: str | None = None,
    redactions: Redactions | None = None,
    incident: str | None = None,
) -> int:
    """`runbook run` without --dry-run: run and record; the outcome's exit code. The
    run's secrets are registered in `redactions` (its error handler's); with `incident`,
    the run becomes a member of that incident when it starts."""
    from engine.modes.run import run_playbook

    request = make_request(
        playbook,
        inputs,
        assume_yes=assume_yes,
        force=force,
        inventory=inventory,
        wait_lock=wait_seconds(wait_lock),
        redactions=redactions,
    )
    listeners = make_listeners(output, quiet) + incident_listeners(incident)
    result = run_playbook(request, listeners, warn=warn)
    return int(result.outcome.exit_code)


def incident_listeners(incident: str | None) -> list[Listener]:
    """With `--incident ID`: the listener that attaches the run to it (the incident is
    looked up now: an unknown one is refused before anything runs)."""
    if incident is None:
        return []
    from engine.modes.incidents import AttachToIncident, existing_incident

    return [AttachToIncident(existing_incident(incident), warn)]


def warn(text: str) -> None:
    """A warning line on stderr."""
    print(text, file=sys.stderr, flush=True)
