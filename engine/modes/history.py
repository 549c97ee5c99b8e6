"""`runbook runs`, `runbook show RUN_ID` and `runbook recover`: what the ledger knows."""

from __future__ import annotations

import json
import time
from pathlib import Path

from msgspec.structs import asdict

from engine.backends.local.containment import kill_leftovers
from engine.core.durations import format_seconds
from engine.core.outcome import Outcome
from engine.ledger import LEDGER_FILE, Ledger, RunRow, default_home
from engine.modes.catalog import table
from engine.modes.run_record import read_record, record_json, record_text


def open_ledger(home: Path | None = None) -> Ledger:
    return Ledger.open((home or default_home()) / LEDGER_FILE)


def list_runs(
    playbook: str | None, outcome: str | None, mode: str | None, limit: int, output: str
) -> str:
    """The runs, newest first, each with the run that made it (`parent_run`: the drill
    of a drill's runs, the run a rollback undid); the drills themselves are listed by
    `runbook drills`."""
    with open_ledger() as ledger:
        rows = ledger.runs(
            playbook=playbook, outcome=outcome, mode=mode, with_drills=False, limit=limit
        )
    if output == "json":
        return json.dumps([asdict(row) for row in rows], indent=2)
    header = ("RUN", "PLAYBOOK", "VERSION", "MODE", "PARENT", "OUTCOME", "STARTED", "TOOK")
    return table((*header, "OPERATOR"), [_run_cells(row) for row in rows])


def _run_cells(row: RunRow) -> tuple[str, ...]:
    took = format_seconds(row.finished_at - row.started_at) if row.finished_at else "-"
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(row.started_at))
    return (
        row.run_id,
        row.playbook,
        row.version,
        row.mode,
        row.parent_run or "-",
        row.status,
        started,
        took,
        row.operator,
    )


def show_run(run_id: str, output: str) -> str:
    """A run told whole (`engine.modes.run_record`): as text, or as JSON."""
    with open_ledger() as ledger:
        record = read_record(ledger, run_id)
    return record_json(record) if output == "json" else record_text(record)


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
        verb = "show" if row.mode == "drill" else "rollback"  # a drill's runs undo themselves
        lines.append(
            f"interrupted: {row.run_id} {row.playbook}{left} — `runbook {verb} {row.run_id}`"
        )
    return "\n".join(lines) or "no interrupted runs"
