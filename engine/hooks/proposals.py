"""`runbook proposals` and `runbook approve`: level-2 playbooks an alert asked for.

An alert that matches a level-2 playbook starts nothing: `runbook serve` records a
proposal with the inputs the alert bound. A human lists them, reads the plan, and
approves one, which runs it as that human (an ordinary supervised run, linked to its
proposal). A proposal expires (`proposals.expire_after` in the serve config, 1h by
default), closes when its alert resolves, is approved once, and is refused if its
playbook changed since: the plan approved must be the plan that was proposed.
"""

from __future__ import annotations

import json
import time

from msgspec import Struct
from msgspec.structs import asdict

from engine.core.durations import format_seconds
from engine.core.errors import RefusedError
from engine.hooks.binding import alert_namespace
from engine.hooks.decide import input_arguments
from engine.hooks.payload import decode_notification
from engine.ledger import Ledger
from engine.ledger.inbox import APPROVED, OPEN, PROPOSED, TriggerRow
from engine.modes.catalog import table
from engine.playbook.loader import load_playbook
from engine.run.preflight import RunRequest


class Proposal(Struct, frozen=True):
    """An open proposal, ready to be planned and approved."""

    trigger: TriggerRow
    request: RunRequest


def list_proposals(ledger: Ledger, show_all: bool, output: str) -> str:
    """Open proposals (with `show_all`, every proposal), newest first."""
    rows = ledger.triggers(decision=PROPOSED, limit=1000)
    if not show_all:
        rows = [row for row in rows if proposal_state(row) == OPEN]
    if output == "json":
        return json.dumps(
            [{**asdict(row), "status": proposal_state(row)} for row in rows], indent=2
        )
    header = ("PROPOSAL", "PROPOSED", "ALERT", "PLAYBOOK", "INPUTS", "STATUS")
    return table(header, [_cells(row) for row in rows])


def proposal_state(row: TriggerRow, now: float | None = None) -> str:
    """open, expired, approved (run …) or resolved."""
    now = time.time() if now is None else now
    if row.state == OPEN and row.expires_at is not None and row.expires_at <= now:
        return "expired"
    return row.state or OPEN


def _cells(row: TriggerRow) -> tuple[str, ...]:
    state = proposal_state(row)
    if state == OPEN and row.expires_at is not None:
        state = f"open, expires in {format_seconds(max(0.0, row.expires_at - time.time()))}"
    elif state == APPROVED:
        state = f"approved: run {row.run_id}"
    inputs = " ".join(f"{name}={value}" for name, value in row.inputs.items())
    return (
        row.trigger_id,
        time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(row.decided_at)),
        f"{row.alertname} {row.fingerprint[:12]}",
        row.playbook or "-",
        inputs or "-",
        state,
    )


def open_proposal(ledger: Ledger, trigger_id: str, interactive: bool) -> Proposal:
    """The proposal `trigger_id` as a run request; RefusedError (exit 5) unless it is open,
    unexpired, and its playbook still has the content that was proposed."""
    row = ledger.get_trigger(trigger_id)
    if row.decision != PROPOSED:
        raise RefusedError(
            f"{row.trigger_id} is not a proposal (it was decided `{row.decision}`)",
            "`runbook proposals` lists the open proposals",
        )
    state = proposal_state(row)
    if state != OPEN:
        run = f" (run {row.run_id})" if row.run_id else ""
        raise RefusedError(
            f"proposal {row.trigger_id} is {state}{run}: nothing to approve",
            f"to act anyway, run it yourself: runbook run {row.file}",
        )
    assert row.file is not None
    playbook = load_playbook(row.file)
    if playbook.content_hash != row.content_hash:
        raise RefusedError(
            f"{row.file} changed since proposal {row.trigger_id} was made",
            "read the new plan and run it yourself: runbook run --dry-run, then runbook run",
        )
    payload = ledger.notification_payload(row.notification_id)
    alert = decode_notification(payload.encode()).alerts[row.position]
    request = RunRequest(
        file=row.file,
        inputs=input_arguments(row.inputs),
        interactive=interactive,
        alert=alert_namespace(alert),
        trigger=row.trigger_id,
        content_hash=row.content_hash,  # refused if the file changes before the run
    )
    return Proposal(row, request)
