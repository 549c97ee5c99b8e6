"""`runbook toil` told: a table with the window and the totals, or one JSON object.

The JSON shape (README, "Toil") is stable: times in seconds, instants in ISO-8601 UTC.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from engine.core.durations import format_seconds
from engine.modes.catalog import table
from engine.modes.toil import PlaybookToil, Toil, toil_report

NOT_SAID = "—"  # what the missing evidence reads as when this report does not say it
HEADER = (
    "RANK",
    "PLAYBOOK",
    "VERSIONS",
    "GUIDED",
    "SUPERVISED",
    "AUTOMATED",
    "DRILLS",
    "HUMAN",
    "PER RUN",
    "RUNS/WEEK",
    "HUMAN/WEEK",
    "LAST RUN",
    "OPERATORS",
    "NEXT LEVEL NEEDS",
)


def show_toil(period: float, since_text: str, output: str) -> str:
    """The toil of the last `period` seconds (`since_text` as the user wrote it)."""
    toil = toil_report(period)
    if output == "json":
        return json.dumps(toil_json(toil), indent=2)
    return toil_text(toil, since_text)


def iso(ts: float | None) -> str | None:
    """An instant as ISO-8601 UTC (`2026-12-07T19:25:53Z`), None as None."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def toil_json(toil: Toil) -> dict[str, Any]:
    entries = toil.playbooks
    return {
        "window": {"since": iso(toil.since), "until": iso(toil.until), "weeks": toil.weeks},
        "totals": {
            "toil_runs": sum(e.toil_runs for e in entries),
            "automated_runs": sum(e.automated_runs for e in entries),
            "drills": sum(e.drills for e in entries),
            "human_seconds": sum(e.time.total for e in entries),
        },
        "playbooks": [
            _entry_json(rank, toil, entry, toil.missing.get(entry.playbook))
            for rank, entry in enumerate(entries, 1)
        ],
    }


def _entry_json(
    rank: int, toil: Toil, entry: PlaybookToil, missing: list[str] | None
) -> dict[str, Any]:
    runs = entry.toil_runs
    return {
        "rank": rank,
        "playbook": entry.playbook,
        "versions": sorted(entry.versions),
        "toil_runs": runs,
        "guided_runs": entry.guided_runs,
        "supervised_runs": entry.supervised_runs,
        "runs_by_mode": dict(sorted(entry.runs_by_mode.items())),
        "automated_runs": entry.automated_runs,
        "drills": entry.drills,
        "human_seconds": entry.time.total,
        "human_seconds_steps": entry.time.steps,
        "human_seconds_confirm": entry.time.confirm,
        "human_seconds_per_run": entry.time.total / runs if runs else None,
        "runs_per_week": toil.per_week(runs),
        "human_seconds_per_week": toil.per_week(entry.time.total),
        "last_run": iso(entry.last_run),
        "operators": sorted(entry.operators),
        "missing_for_next_level": missing,
    }


def toil_text(toil: Toil, since_text: str) -> str:
    window = f"toil over the last {since_text} ({iso(toil.since)} to {iso(toil.until)})"
    if not toil.playbooks:
        return f"{window}: no runs in the ledger in this window"
    rows = [
        _entry_cells(rank, toil, entry, toil.missing.get(entry.playbook))
        for rank, entry in enumerate(toil.playbooks, 1)
    ]
    totals = toil_json(toil)["totals"]
    total = (
        f"total: {totals['toil_runs']} toil run(s), {format_seconds(totals['human_seconds'])}"
        f" of human time; {totals['automated_runs']} automated run(s), {totals['drills']} drill(s)"
    )
    note = f"{NOT_SAID} in NEXT LEVEL NEEDS: see `runbook maturity`"
    return "\n".join([window, "", table(HEADER, rows), "", total, note])


def _entry_cells(
    rank: int, toil: Toil, entry: PlaybookToil, missing: list[str] | None
) -> tuple[str, ...]:
    runs = entry.toil_runs
    return (
        str(rank),
        entry.playbook,
        ",".join(sorted(entry.versions)),
        str(entry.guided_runs),
        str(entry.supervised_runs),
        str(entry.automated_runs),
        str(entry.drills),
        format_seconds(entry.time.total),
        format_seconds(entry.time.total / runs) if runs else "-",
        f"{toil.per_week(runs):.1f}",
        format_seconds(toil.per_week(entry.time.total)),
        (iso(entry.last_run) or "-").replace("T", " "),
        ",".join(sorted(entry.operators)) or "-",
        "; ".join(missing) if missing else NOT_SAID,
    )
