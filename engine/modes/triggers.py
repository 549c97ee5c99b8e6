"""`runbook triggers`: every decision `runbook serve` took on an alert, and why."""

from __future__ import annotations

import json
import time

from msgspec.structs import asdict

from engine.ledger.inbox import EscalationRow, TriggerRow
from engine.modes.catalog import table
from engine.modes.history import open_ledger


def list_triggers(decision: str | None, since: float | None, limit: int, output: str) -> str:
    """The decisions on alerts, newest first: as a table, or as JSON."""
    with open_ledger() as ledger:
        rows = ledger.triggers(decision=decision, since=since, limit=limit)
    if output == "json":
        return json.dumps([asdict(row) for row in rows], indent=2)
    header = ("TRIGGER", "DECIDED", "ALERT", "PLAYBOOK", "DECISION", "RUN", "REASON")
    return table(header, [_cells(row) for row in rows])


def _cells(row: TriggerRow) -> tuple[str, ...]:
    decided = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(row.decided_at))
    decision = f"{row.decision} ({row.state})" if row.state else row.decision
    return (
        row.trigger_id,
        decided,
        f"{row.alertname} {row.fingerprint[:12]}",
        row.playbook or "-",
        decision,
        row.run_id or "-",
        row.reason,
    )


def list_escalations(limit: int, output: str) -> str:
    """The escalations, newest first, and whether each was delivered."""
    with open_ledger() as ledger:
        rows = ledger.escalations(limit=limit)
    if output == "json":
        return json.dumps([asdict(row) for row in rows], indent=2)
    header = ("ESCALATION", "CREATED", "REASON", "PLAYBOOK", "RUN", "STATUS", "DETAIL")
    return table(header, [_escalation_cells(row) for row in rows])


def _escalation_cells(row: EscalationRow) -> tuple[str, ...]:
    return (
        row.escalation_id,
        time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(row.created_at)),
        row.reason,
        row.playbook or "-",
        row.run_id or "-",
        row.status,
        row.detail,
    )
