"""`runbook drills` and `runbook show DRILL_ID`: the drills the ledger keeps."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from msgspec.structs import asdict

from engine.ledger import DrillRow
from engine.modes.catalog import table
from engine.modes.drill.report import render_json, render_text
from engine.modes.drill.verdict import DrillReport
from engine.modes.history import open_ledger


def list_drills(playbook: str | None, limit: int, output: str) -> str:
    """The drills, newest first (of one playbook: its name or its file): a table, or JSON
    without the reports."""
    file = str(Path(playbook).resolve()) if playbook else None
    with open_ledger() as ledger:
        rows = ledger.drills(playbook=playbook, file=file, limit=limit)
    if output == "json":
        return json.dumps([_listed(row) for row in rows], indent=2)
    header = ("DRILL", "PLAYBOOK", "VERSION", "VERDICT", "DETECTED", "RECOVERED", "STARTED")
    return table(header, [_drill_cells(row) for row in rows])


def show_drill(drill_id: str, output: str) -> str:
    """The report the drill printed, as text or JSON; a drill that never ended (its
    engine died) is told from what was recorded when it started."""
    with open_ledger() as ledger:
        row = ledger.get_drill(drill_id)
    if not row.report:
        return json.dumps(_listed(row), indent=2) if output == "json" else _unfinished(row)
    report = DrillReport.from_dict(row.report)
    return render_json(report) if output == "json" else render_text(report)


def _listed(row: DrillRow) -> dict[str, Any]:
    data = asdict(row)
    del data["report"]  # `runbook show DRILL_ID` has it
    return data


def _drill_cells(row: DrillRow) -> tuple[str, ...]:
    return (
        row.drill_id,
        row.playbook,
        row.version,
        row.verdict or row.status,
        _seconds(row.detected_after),
        _seconds(row.recovered_after),
        time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(row.started_at)),
    )


def _unfinished(row: DrillRow) -> str:
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(row.started_at))
    return (
        f"drill {row.drill_id} of {row.playbook} {row.version}, started {started}: "
        f"{row.status}, no report recorded (`runbook runs --mode drill` lists its runs,"
        " each with this drill as its parent)"
    )


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:g}s"
