"""The evidence rows of one playbook content, read from the ledger: each with the id
`runbook show ID` looks up (a run or a drill), what it is, when, and how it went."""

from __future__ import annotations

from typing import Any

from msgspec import Struct

from engine.core.outcome import Outcome
from engine.core.results import Status
from engine.core.tabletop import spoken
from engine.ledger import Content, Ledger, RunRow

GUIDED = "guided_run"
SUPERVISED = "supervised_run"
DRILL = "drill"
UNDO = "exercised_undo"
ROLLBACK_FAILED = "rollback_failed"
ESCALATION = "escalation"
TABLETOP = "tabletop"
TABLETOP_MODE = "tabletop"  # `runbook tabletop`: practice, never a guided or supervised run
GUIDED_MODE = "guided"  # a level-1 run at a terminal
SUPERVISED_MODES = ("live", "hook")  # a level-2 or 3 run: `runbook run`, `runbook serve`
SUCCESSES = (Outcome.RECOVERED.value, Outcome.COMPLETED.value)
# Refused: nothing ran. Interrupted: the engine died (a crash, a reboot), which tells
# nothing of the playbook; what its rollback undid still counts as exercised undos.
_NO_EVIDENCE = (Outcome.REFUSED.value, Outcome.INTERRUPTED.value)


class EvidenceRow(Struct, frozen=True):
    """One fact about this content. `id`: a run or drill id (`runbook show ID`);
    `ok`: whether it counts for the level (a guided run with every step done, a
    supervised run recovered or completed, a passed drill, an undo that succeeded)."""

    id: str
    kind: str
    at: float
    outcome: str
    ok: bool
    detail: str = ""
    detected_after: float | None = None
    recovered_after: float | None = None


def evidence_rows(ledger: Ledger, content: Content) -> list[EvidenceRow]:
    """Every evidence row of this content, oldest first."""
    runs = ledger.evidence_runs(content)
    rows = [row for run in runs for row in _of_run(run)]
    rows += [
        EvidenceRow(
            drill.drill_id,
            DRILL,
            drill.started_at,
            drill.verdict or "",
            drill.verdict == "passed",
            _case_of(drill.report),
            detected_after=drill.detected_after,
            recovered_after=drill.recovered_after,
        )
        for drill in ledger.drills_of(content)
    ]
    rows += [
        EvidenceRow(undo.run_id, UNDO, undo.at, Status.SUCCEEDED.value, True, undo.step_id)
        for undo in ledger.evidence_undos(content)
    ]
    rows += [
        EvidenceRow(found.run_id, ESCALATION, found.created_at, found.reason, False)
        for found in ledger.evidence_escalations(content)
    ]
    return sorted(rows, key=lambda row: (row.at, row.id, row.kind))


def _case_of(report: dict[str, Any]) -> str:
    """A drill of a regression case (`runbook drill --case`) says so: `drill (case NAME)`."""
    case = report.get("case")
    return f"drill (case {case['name']})" if isinstance(case, dict) and "name" in case else ""


def _of_run(run: RunRow) -> list[EvidenceRow]:
    rows: list[EvidenceRow] = []
    if run.status == Outcome.ROLLBACK_FAILED.value:
        rows.append(EvidenceRow(run.run_id, ROLLBACK_FAILED, run.started_at, run.status, False))
    if run.status in _NO_EVIDENCE:
        return rows
    if run.mode == GUIDED_MODE:
        rows.append(_guided(run))
    elif run.mode == TABLETOP_MODE:
        rows.append(_tabletop(run))
    elif run.mode in SUPERVISED_MODES and (run.maturity or 0) >= 2:
        ok = run.status in SUCCESSES
        rows.append(EvidenceRow(run.run_id, SUPERVISED, run.started_at, run.status, ok))
    return rows


def _guided(run: RunRow) -> EvidenceRow:
    """A level-1 run counts when it completed (or recovered) with every step done."""
    steps = run.summary.get("steps")
    statuses = list(steps.values()) if isinstance(steps, dict) else []
    not_done = [step for step, status in (steps or {}).items() if status != Status.SUCCEEDED]
    ok = run.status in SUCCESSES and bool(statuses) and not not_done
    detail = f"not done: {', '.join(not_done)}" if not_done else ""
    return EvidenceRow(run.run_id, GUIDED, run.started_at, run.status, ok, detail)


def _tabletop(run: RunRow) -> EvidenceRow:
    """A tabletop counts (a clean one) when it went through every step and no step was
    blocked; its detail names its gaps, which the board shows for the last one."""
    blocked = run.summary.get("blocked")
    ok = run.status == Outcome.COMPLETED.value and not blocked
    return EvidenceRow(run.run_id, TABLETOP, run.started_at, run.status, ok, tabletop_gaps(run))


def tabletop_gaps(run: RunRow) -> str:
    """The gaps a tabletop recorded, as `missing permission at restart; …`."""
    gaps = run.summary.get("gaps")
    if not isinstance(gaps, list):
        return ""
    found = [gap for gap in gaps if isinstance(gap, dict)]
    return "; ".join(f"{spoken(str(gap.get('gap')))} at {gap.get('step')}" for gap in found)
