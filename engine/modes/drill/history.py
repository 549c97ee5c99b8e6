"""`runbook drills` and `runbook show DRILL_ID`: the drills the ledger keeps."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from msgspec.structs import asdict

from engine.core.errors import LedgerError
from engine.ledger import DrillRow, Ledger
from engine.modes.catalog import table
from engine.modes.drill.report import render_text
from engine.modes.drill.verdict import DrillReport
from engine.modes.history import open_ledger
from engine.modes.run_record import incident_line


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
        incident = _incident_of(ledger, row.drill_id)
    if not row.report:
        listed = {**_listed(row), **({"incident": incident} if incident else {})}
        return json.dumps(listed, indent=2) if output == "json" else _unfinished(row, incident)
    report = DrillReport.from_dict(row.report)
    if output == "json":  # the report the drill printed, and the incident it joined
        joined = {"incident": incident} if incident else {}
        return json.dumps({**report.as_dict(), **joined}, indent=2, sort_keys=True)
    text = render_text(report)
    return f"{text}\n{incident_line(incident)}" if incident else text


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


def _incident_of(ledger: Ledger, drill_id: str) -> str | None:
    """The incident the drill belongs to (`runbook drill --incident`, or attached); None
    also for a drill that started no run (refused before its first)."""
    try:
        return ledger.incident_of_run(drill_id)
    except LedgerError:
        return None


def _unfinished(row: DrillRow, incident: str | None) -> str:
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(row.started_at))
    told = (
        f"drill {row.drill_id} of {row.playbook} {row.version}, started {started}: "
        f"{row.status}, no report recorded (`runbook runs --mode drill` lists its runs,"
        " each with this drill as its parent)"
    )
    return f"{told}\n{incident_line(incident)}" if incident else told


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:g}s"
