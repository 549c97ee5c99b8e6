"""`runbook runs`, `runbook show RUN_ID` and `runbook recover`: what the ledger knows."""

from __future__ import annotations

import json
import time
from pathlib import Path

from msgspec.structs import asdict

from engine.backends.local.containment import kill_leftovers
from engine.core.durations import format_seconds
from engine.core.events import EventKind
from engine.core.outcome import Outcome
from engine.ledger import LEDGER_FILE, EventRow, Ledger, RunRow, default_home
from engine.modes.catalog import table


def open_ledger(home: Path | None = None) -> Ledger:
    return Ledger.open((home or default_home()) / LEDGER_FILE)


def list_runs(playbook: str | None, outcome: str | None, limit: int, output: str) -> str:
    with open_ledger() as ledger:
        rows = ledger.runs(playbook=playbook, outcome=outcome, limit=limit)
    if output == "json":
        return json.dumps([asdict(row) for row in rows], indent=2)
    header = ("RUN", "PLAYBOOK", "VERSION", "MODE", "OUTCOME", "STARTED", "TOOK", "OPERATOR")
    return table(header, [_run_cells(row) for row in rows])


def _run_cells(row: RunRow) -> tuple[str, ...]:
    took = format_seconds(row.finished_at - row.started_at) if row.finished_at else "-"
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(row.started_at))
    return (
        row.run_id,
        row.playbook,
        row.version,
        row.mode,
        row.status,
        started,
        took,
        row.operator,
    )


def show_run(run_id: str, output: str) -> str:
    with open_ledger() as ledger:
        row = ledger.get_run(run_id)
        events = ledger.events(row.run_id)
    if output == "json":
        return json.dumps({"run": asdict(row), "events": [asdict(e) for e in events]}, indent=2)
    head = f"run {row.run_id}: {row.playbook} {row.version} ({row.mode}) — {row.status}"
    who = f"operator: {row.operator} (declared), OS user: {_os_user(events)}"
    return "\n".join([head, who, *(_event_line(row.started_at, e) for e in events)])


def _os_user(events: list[EventRow]) -> str:
    """The account that ran it, as the engine saw it (runs recorded before it did: unknown)."""
    started = next((e for e in events if e.kind == EventKind.RUN_STARTED), None)
    return str(started.data.get("os_user") or "not recorded") if started else "not recorded"


def _event_line(start: float, event: EventRow) -> str:
    offset = f"+{event.ts - start:7.3f}s"
    step = f" {event.step_id}" if event.step_id else ""
    return f"{offset} {event.kind}{step}{_event_detail(event)}"


def _event_detail(event: EventRow) -> str:
    data = event.data
    keys = (
        *("command", "status", "exit_code", "message", "attempt", "delay", "outcome", "reason"),
        *("approved_by", "approved", "by", "os_user"),  # who approved a confirm gate (audit)
        *("target", "targets", "epochs", "holder", "waited", "taken_over"),  # target locks
    )
    parts = [
        f"{key}={_holder(data[key]) if key == 'holder' else repr(data[key])}"
        for key in keys
        if data.get(key) not in (None, "", [], {})
    ]
    tail = _output_tail(data.get("output"))
    return (": " + ", ".join(parts) if parts else "") + tail


def _holder(holder: object) -> str:
    """The holder of a target lock, as the refusal names it."""
    if not isinstance(holder, dict):
        return repr(holder)
    return f"run {holder.get('run_id')} (host {holder.get('host')}, pid {holder.get('pid')})"


def _output_tail(output: object, lines: int = 5) -> str:
    if not isinstance(output, str) or not output.strip():
        return ""
    tail = output.rstrip("\n").splitlines()[-lines:]
    return "".join(f"\n           │ {line}" for line in tail)


def recover() -> str:
    """Mark runs whose process died as interrupted (opening the ledger does it) and kill
    what their steps left running (engine.backends.local.containment)."""

    with open_ledger() as ledger:
        interrupted = ledger.mark_interrupted()
        recent = ledger.runs(outcome=Outcome.INTERRUPTED, limit=20)
    lines = [f"marked interrupted: {run}" for run in interrupted]
    for row in recent:
        killed = kill_leftovers(row.run_id)
        left = f" (killed {killed} processes its steps left running)" if killed else ""
        lines.append(
            f"interrupted: {row.run_id} {row.playbook}{left} — `runbook rollback {row.run_id}`"
        )
    return "\n".join(lines) or "no interrupted runs"
