"""Automatic demotion: a level-3 playbook content that fails unattended falls to an
effective level 2 at once, recorded as a `demote` sign-off by the engine (operator
`runbook`) with the reason and the run ids. The file is never edited.

It is decided inside the transaction that records the run's end (`finish_run`) or the
escalation (`add_escalation`): the demotion commits with the fact behind it, or neither
does, so a crash in between cannot lose it.

Triggers, counted among the runs of this content since its last sign-off (a promotion
starts them over), runs of modes `live` and `hook` recorded at level 3:
- a run that ended `rollback_failed`;
- two consecutive runs that ended `failed` or `not_recovered`;
- `escalations` escalations about its runs within `escalations_within` seconds (not
  counting those about runs the engine died under: `interrupted` is no evidence).
A drill's runs (mode `drill`) are practice: their failures are evidence, no trigger.
"""

from __future__ import annotations

import sqlite3
import time

from msgspec import Struct

from engine.ledger.evidence import MaturityChange, add_change

ENGINE_OPERATOR = "runbook"
DEMOTE = "demote"
AUTOMATED = 3
_UNATTENDED_MODES = ("live", "hook")
_BAD = ("failed", "not_recovered")
_ROLLBACK_FAILED = "rollback_failed"


class DemotionRule(Struct, frozen=True):
    """How many escalations within how many seconds demote (policy `demote:`)."""

    escalations: int = 3
    escalations_within: float = 86400.0


class _Content(Struct, frozen=True):
    playbook: str
    version: str
    evidence_hash: str
    file: str


def after_run(conn: sqlite3.Connection, run_id: str, rule: DemotionRule) -> str | None:
    """Inside the write transaction that ended `run_id`: record the automatic demotion
    its end calls for, if any; the change id."""
    content = _level_3_run(conn, run_id)
    if content is None:
        return None
    runs = _runs_since(conn, content, _since(conn, content))
    if not runs or runs[-1][0] != run_id:
        return None
    status = runs[-1][1]
    if status == _ROLLBACK_FAILED:
        return _demote(conn, content, f"demoted after {run_id} rollback_failed", [run_id])
    if status in _BAD and len(runs) >= 2 and runs[-2][1] in _BAD:
        ids = [runs[-2][0], run_id]
        says = f"demoted after {ids[0]} {runs[-2][1]} and {run_id} {status}"
        return _demote(conn, content, says, ids)
    return None


def after_escalation(
    conn: sqlite3.Connection, run_id: str | None, rule: DemotionRule
) -> str | None:
    """Inside the write transaction that recorded an escalation about `run_id`: record
    the automatic demotion `rule`'s count of escalations calls for, if any."""
    content = _level_3_run(conn, run_id) if run_id and rule.escalations > 0 else None
    if content is None:
        return None
    since = max(_since(conn, content), time.time() - rule.escalations_within)
    rows = conn.execute(
        "SELECT escalations.run_id FROM escalations JOIN runs USING (run_id)"
        " WHERE runs.playbook = ? AND runs.evidence_hash = ? AND runs.maturity >= ?"
        " AND escalations.status != 'not_needed' AND escalations.created_at > ?"
        # a run its engine died under (kill -9, a reboot) says nothing of the playbook
        " AND runs.status != 'interrupted'"
        " ORDER BY escalations.created_at",
        (content.playbook, content.evidence_hash, AUTOMATED, since),
    ).fetchall()
    if len(rows) < rule.escalations:
        return None
    ids = list(dict.fromkeys(str(row[0]) for row in rows))
    hours = f"{rule.escalations_within / 3600:g}h"
    says = f"demoted after {len(rows)} escalations within {hours}: {', '.join(ids)}"
    return _demote(conn, content, says, ids)


def _level_3_run(conn: sqlite3.Connection, run_id: str) -> _Content | None:
    """The content of `run_id` when it is an unattended-mode run at level 3 whose content
    stands at level 3 (no demotion recorded since its last promotion)."""
    row = conn.execute(
        "SELECT playbook, version, evidence_hash, file, mode, maturity FROM runs WHERE run_id = ?",
        (run_id,),
    ).fetchone()
    if row is None or row[2] is None or row[4] not in _UNATTENDED_MODES:
        return None
    if (row[5] or 0) < AUTOMATED:
        return None
    content = _Content(row[0], row[1], row[2], row[3])
    last = _last_change(conn, content)
    if last is not None and last[0] == DEMOTE and last[1] < AUTOMATED:
        return None
    return content


def _last_change(conn: sqlite3.Connection, content: _Content) -> tuple[str, int, float] | None:
    row = conn.execute(
        "SELECT action, to_level, at FROM maturity_changes WHERE playbook = ?"
        " AND evidence_hash = ? ORDER BY at DESC, change_id DESC LIMIT 1",
        (content.playbook, content.evidence_hash),
    ).fetchone()
    return (row[0], int(row[1]), float(row[2])) if row else None


def _since(conn: sqlite3.Connection, content: _Content) -> float:
    """Runs before the content's last sign-off do not count."""
    last = _last_change(conn, content)
    return last[2] if last is not None else 0.0


def _runs_since(conn: sqlite3.Connection, content: _Content, since: float) -> list[tuple[str, str]]:
    rows = conn.execute(
        "SELECT run_id, status FROM runs WHERE playbook = ? AND evidence_hash = ?"
        " AND mode IN (?, ?) AND maturity >= ? AND started_at > ?"
        " AND status NOT IN ('running', 'refused') ORDER BY finished_at, run_id",
        (content.playbook, content.evidence_hash, *_UNATTENDED_MODES, AUTOMATED, since),
    ).fetchall()
    return [(str(row[0]), str(row[1])) for row in rows]


def _demote(conn: sqlite3.Connection, content: _Content, reason: str, ids: list[str]) -> str:
    change = {
        "playbook": content.playbook,
        "version": content.version,
        "evidence_hash": content.evidence_hash,
        "file": content.file,
        "action": DEMOTE,
        "from_level": AUTOMATED,
        "to_level": AUTOMATED - 1,
        "operator": ENGINE_OPERATOR,
        "reason": reason,
        "evidence": ids,
        "verdict": "automatic",
    }
    return add_change(conn, change)


def lowering(changes: list[MaturityChange], declared: int) -> MaturityChange | None:
    """The last sign-off of a content (`changes`, oldest first) when it is a demotion
    below `declared`: the effective level is its `to_level`."""
    last = changes[-1] if changes else None
    if last is not None and last.action == DEMOTE and last.to_level < declared:
        return last
    return None
