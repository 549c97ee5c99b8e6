"""What the ledger holds about one playbook content's maturity (schema v4): the runs,
drills, exercised undos and escalations of a (playbook name, evidence hash), and the
sign-offs (`runbook promote`, `runbook demote`) that changed its level.

The evidence hash is the content hash without `metadata.maturity`
(`engine.playbook.build.evidence_hash`). Runs recorded before v4 have none (NULL): they
are matched by their content hash instead, which is one of the content's hashes at
levels 1, 2 and 3 (`Content.legacy`). Their maturity level is read back from their
`run_started` event, which always held it.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from typing import Any

from msgspec import Struct

from engine.ledger.model import RUNNING, RunRow, new_id, to_json

SCHEMA = """
ALTER TABLE runs ADD COLUMN evidence_hash TEXT;
ALTER TABLE runs ADD COLUMN maturity INTEGER;
UPDATE runs SET maturity = (
    SELECT json_extract(data, '$.maturity') FROM events
    WHERE events.run_id = runs.run_id AND kind = 'run_started' ORDER BY seq LIMIT 1
);
CREATE INDEX runs_by_evidence ON runs (playbook, evidence_hash);
CREATE INDEX runs_by_version ON runs (playbook, version);
CREATE TABLE maturity_changes (
    change_id TEXT PRIMARY KEY,
    playbook TEXT NOT NULL, version TEXT NOT NULL, evidence_hash TEXT NOT NULL,
    file TEXT NOT NULL,
    -- `promote` or `demote`; the levels as the file said before and after
    action TEXT NOT NULL, from_level INTEGER NOT NULL, to_level INTEGER NOT NULL,
    operator TEXT NOT NULL, at REAL NOT NULL, reason TEXT NOT NULL DEFAULT '',
    -- the ids of the evidence rows behind a promotion, and its verdict (JSON)
    evidence TEXT NOT NULL, verdict TEXT NOT NULL DEFAULT ''
);
CREATE INDEX maturity_changes_by_playbook ON maturity_changes (playbook, at)
"""

SUCCEEDED = "succeeded"
# The runs of one content (`Content.params`): by their evidence hash, or (recorded before
# v4) by their content hash.
_CONTENT = """WITH content AS (SELECT * FROM runs WHERE playbook = ? AND (evidence_hash = ?
    OR (evidence_hash IS NULL AND content_hash IN (SELECT value FROM json_each(?)))))"""
_ENDED_RUNS = "SELECT * FROM content WHERE status != ? ORDER BY started_at, run_id"
_UNDOS = (
    "SELECT events.run_id, events.step_id, events.ts, content.mode FROM events"
    " JOIN content ON content.run_id = events.run_id WHERE events.kind = 'undo_result'"
    " AND json_extract(events.data, '$.status') = ? ORDER BY events.ts, events.run_id"
)
_ESCALATIONS = (
    "SELECT escalation_id, escalations.run_id, reason, created_at FROM escalations"
    " JOIN content ON content.run_id = escalations.run_id"
    " WHERE escalations.status != 'not_needed' ORDER BY created_at"
)
_DRILLS = (
    "SELECT drill_id FROM drills JOIN content ON content.run_id = drill_id"
    " WHERE drills.verdict IS NOT NULL ORDER BY drills.started_at, drill_id"
)


class Content(Struct, frozen=True):
    """One playbook content: its name, evidence hash, and its content hashes at each
    level (what runs recorded before the evidence hash match by)."""

    playbook: str
    evidence_hash: str
    legacy: tuple[str, ...] = ()

    def params(self) -> tuple[str, str, str]:
        return (self.playbook, self.evidence_hash, json.dumps(list(self.legacy)))


class VersionRecord(Struct, frozen=True):
    """The first run that recorded a playbook's version with another content."""

    run_id: str
    evidence_hash: str


class UndoRow(Struct, frozen=True):
    """An undo that succeeded: in which run (a rollback, a run's own rollback, a
    drill's revert), of which step, when."""

    run_id: str
    step_id: str
    at: float
    mode: str


class EscalationOfRun(Struct, frozen=True):
    """An escalation `runbook serve` recorded about a run of this content."""

    escalation_id: str
    run_id: str
    reason: str
    created_at: float


class MaturityChange(Struct, frozen=True):
    """A sign-off: who moved a playbook content from one declared level to another."""

    change_id: str
    playbook: str
    version: str
    evidence_hash: str
    file: str
    action: str
    from_level: int
    to_level: int
    operator: str
    at: float
    reason: str
    evidence: list[str]
    verdict: str


def other_content(
    conn: sqlite3.Connection, playbook: str, version: str, evidence_hash: str
) -> VersionRecord | None:
    """The first run of `playbook` at `version` recorded with another evidence hash."""
    row = conn.execute(
        "SELECT run_id, evidence_hash FROM runs WHERE playbook = ? AND version = ?"
        " AND evidence_hash IS NOT NULL AND evidence_hash != ? ORDER BY started_at LIMIT 1",
        (playbook, version, evidence_hash),
    ).fetchone()
    return VersionRecord(row["run_id"], row["evidence_hash"]) if row else None


def runs(conn: sqlite3.Connection, content: Content) -> list[RunRow]:
    """Every run of this content that ended (drills' own rows included), oldest first."""
    rows = conn.execute(
        f"{_CONTENT} {_ENDED_RUNS}",
        (*content.params(), RUNNING),
    ).fetchall()
    return [RunRow.from_record(dict(row)) for row in rows]


def undos(conn: sqlite3.Connection, content: Content) -> list[UndoRow]:
    """Every undo that succeeded in a run of this content, oldest first."""
    rows = conn.execute(
        f"{_CONTENT} {_UNDOS}",
        (*content.params(), SUCCEEDED),
    ).fetchall()
    return [UndoRow(r["run_id"], r["step_id"] or "", r["ts"], r["mode"]) for r in rows]


def escalations(conn: sqlite3.Connection, content: Content) -> list[EscalationOfRun]:
    """Escalations about runs of this content, oldest first (those recorded as not
    needed left out)."""
    rows = conn.execute(
        f"{_CONTENT} {_ESCALATIONS}",
        content.params(),
    ).fetchall()
    return [
        EscalationOfRun(r["escalation_id"], r["run_id"], r["reason"], r["created_at"]) for r in rows
    ]


_INSERT_CHANGE = """
INSERT INTO maturity_changes (change_id, playbook, version, evidence_hash, file, action,
    from_level, to_level, operator, at, reason, evidence, verdict)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""


def drill_ids(conn: sqlite3.Connection, content: Content) -> list[str]:
    """The drills of this content that ended, oldest first."""
    rows = conn.execute(
        f"{_CONTENT} {_DRILLS}",
        content.params(),
    ).fetchall()
    return [row["drill_id"] for row in rows]


def add_change(conn: sqlite3.Connection, change: dict[str, Any]) -> str:
    """Record a sign-off (the fields of `MaturityChange` but its id and time); its id."""
    change_id = new_id("m")
    values = {**change, "change_id": change_id, "at": time.time()}
    values["evidence"] = to_json({"ids": list(values["evidence"])})
    conn.execute(_INSERT_CHANGE, [values[name] for name in MaturityChange.__struct_fields__])
    return change_id


def changes(conn: sqlite3.Connection, playbooks: Sequence[str]) -> list[MaturityChange]:
    """The sign-offs of these playbooks, oldest first."""
    found: list[MaturityChange] = []
    for playbook in dict.fromkeys(playbooks):
        rows = conn.execute(
            "SELECT * FROM maturity_changes WHERE playbook = ? ORDER BY at, change_id",
            (playbook,),
        ).fetchall()
        found.extend(_change(dict(row)) for row in rows)
    return sorted(found, key=lambda change: (change.at, change.change_id))


def _change(record: dict[str, Any]) -> MaturityChange:
    record["evidence"] = json.loads(record["evidence"]).get("ids", [])
    names = MaturityChange.__struct_fields__
    return MaturityChange(**{name: record[name] for name in names})
