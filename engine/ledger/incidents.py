"""Incidents (schema v5): what belongs together when something broke — the alerts that
opened it, its runs, proposals and approvals, human notes — and its lifecycle times.

How alerts group (in the transaction that records the decisions on them, so that the
deciding thread of `runbook serve` and a human at the CLI never lose each other's
writes):

- a firing alert whose firing (fingerprint, startsAt) an incident already holds belongs
  to it: a resend, a copy from an Alertmanager HA peer, a late copy after the resolved
  one, all land in the same incident and add nothing;
- otherwise it joins the newest open incident that holds an alert with the same
  fingerprint still firing, or, failing that, one opened by an alert of the same
  Alertmanager group (`groupKey`) with an alert still firing and not resolved by a human;
- otherwise it opens a new incident. A resolved alert never opens one; it ends its
  firing in the incident that holds it.

What the record says of the times is read when an incident is read, never stored:
impact started is the earliest alert's startsAt; detected, the receipt of the first
notification of it; response started, the start of the first member run; mitigated,
when the SLI of the first run that ended `recovered` turned healthy; resolved, the last
endsAt once every alert of the incident is resolved. A human's times are stored, and
win (`engine/ledger/incident_times.py`).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from msgspec import Struct

from engine.core.errors import LedgerError, UsageError
from engine.ledger.inbox import InboxAlert, Pending
from engine.ledger.incident_times import (
    DETECTED,
    IMPACT_STARTED,
    MITIGATED,
    RESOLVED,
    RESPONSE_STARTED,
    TIMES,
    TimeOf,
    check_human,
    epoch_of,
    settle,
)
from engine.ledger.model import new_id

SCHEMA = """
CREATE TABLE incidents (
    incident_id TEXT PRIMARY KEY,
    title TEXT NOT NULL, severity TEXT NOT NULL DEFAULT '', playbook TEXT NOT NULL DEFAULT '',
    opened_at REAL NOT NULL, opened_by TEXT NOT NULL,
    -- the Alertmanager group of the alert that opened it ('' when a human opened it)
    group_key TEXT NOT NULL DEFAULT '',
    -- the times a human set (NULL: the record's, read when the incident is read)
    impact_started REAL, detected REAL, response_started REAL, mitigated REAL, resolved REAL
);
CREATE INDEX incidents_by_group ON incidents (group_key, opened_at);
CREATE TABLE incident_alerts (
    incident_id TEXT NOT NULL REFERENCES incidents (incident_id),
    fingerprint TEXT NOT NULL, starts_at TEXT NOT NULL,
    -- the first notification of this firing, when it was received, and the resolved one
    notification_id TEXT NOT NULL, position INTEGER NOT NULL, received_at REAL NOT NULL,
    resolved_by TEXT,
    status TEXT NOT NULL, ends_at TEXT NOT NULL DEFAULT '',
    alertname TEXT NOT NULL, labels TEXT NOT NULL DEFAULT '{}',
    generator_url TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (fingerprint, starts_at)
) WITHOUT ROWID;
CREATE INDEX incident_alerts_by_incident ON incident_alerts (incident_id, status);
CREATE TABLE incident_runs (
    run_id TEXT PRIMARY KEY REFERENCES runs (run_id),
    incident_id TEXT NOT NULL REFERENCES incidents (incident_id),
    attached_at REAL NOT NULL, attached_by TEXT NOT NULL
);
CREATE INDEX incident_runs_by_incident ON incident_runs (incident_id);
CREATE TABLE incident_notes (
    note_id TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL REFERENCES incidents (incident_id),
    at REAL NOT NULL, author TEXT NOT NULL, text TEXT NOT NULL
);
CREATE INDEX incident_notes_by_incident ON incident_notes (incident_id, at)
"""

OPEN = "open"
MITIGATED_STATUS = "mitigated"
RESOLVED_STATUS = "resolved"


class IncidentAlert(Struct, frozen=True):
    """One firing of an alert in an incident: the notification that brought it first (and
    the one that resolved it), its labels, times as Alertmanager sent them, and link."""

    notification_id: str
    position: int
    received_at: float
    fingerprint: str
    alertname: str
    labels: dict[str, str]
    starts_at: str
    ends_at: str  # "" while it fires
    status: str  # firing | resolved
    generator_url: str
    resolved_by: str | None  # the resolved notification's id


class IncidentProposal(Struct, frozen=True):
    """A proposal an alert of the incident made: its decision id, playbook, state (open,
    approved, resolved …) and, once approved, the run that carried it out."""

    trigger_id: str
    playbook: str | None
    state: str | None
    run_id: str | None


class IncidentNote(Struct, frozen=True):
    """A human's note: who, when, what."""

    note_id: str
    at: float
    author: str
    text: str


class IncidentRecord(Struct, frozen=True):
    """An incident whole, as `Ledger.incident` reads it.

    `times` maps each of `incident_times.TIMES` (impact_started, detected,
    response_started, mitigated, resolved) to a `TimeOf`: when (epoch seconds or None),
    its source (`record` or `human`), and why a record time was left out (`ignored`).
    `status` is `resolved` when a resolved time stands, else `mitigated` when a mitigated
    time does, else `open`. `alerts` are the firings that opened or joined it, oldest
    first; `run_ids` its member runs in start order (the runs its alerts started, those
    of its approved proposals, and those attached by hand: `attached`); `proposals`
    those its alerts made; `notes` oldest first."""

    incident_id: str
    title: str
    severity: str
    playbook: str
    opened_at: float
    opened_by: str
    group_key: str
    status: str
    times: dict[str, TimeOf]
    alerts: list[IncidentAlert]
    run_ids: list[str]
    attached: list[str]
    proposals: list[IncidentProposal]
    notes: list[IncidentNote]

    def took(self, name: str) -> float | None:
        """Seconds from impact started to the time `name` (TTD: detected, TTM: mitigated,
        TTR: resolved), None unless both stand."""
        start, end = self.times[IMPACT_STARTED].at, self.times[name].at
        return None if start is None or end is None else end - start


# -- writing (each inside the caller's write transaction) -------------------------------


def open_incident(
    conn: sqlite3.Connection,
    title: str,
    opened_by: str,
    *,
    severity: str = "",
    playbook: str = "",
    group_key: str = "",
) -> str:
    """A new open incident; its id (`i…`)."""
    incident_id = new_id("i")
    conn.execute(
        "INSERT INTO incidents (incident_id, title, severity, playbook, opened_at, opened_by,"
        " group_key) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (incident_id, title, severity, playbook, time.time(), opened_by, group_key),
    )
    return incident_id


def on_alert(conn: sqlite3.Connection, alert: Pending, facts: InboxAlert) -> str | None:
    """An alert decided on: a firing one opens or joins an incident (see the module's
    rules), a resolved one ends its firing in the incident holding it; the incident's id
    (None: a resolved alert no incident holds, or a firing resolved before it was seen)."""
    if not facts.fingerprint:
        return None
    held = _holder(conn, facts.fingerprint, facts.starts_at)
    if facts.status == "resolved":
        if held is not None:
            _end_firing(conn, alert, facts)
        return held
    if held is not None or _resolved_before(conn, facts):
        return held
    group_key = _group_key(conn, alert.notification_id)
    incident_id = _open_for(conn, facts.fingerprint, group_key)
    if incident_id is None:
        title = facts.summary or _title_from(facts)
        opened_by = f"alertmanager{f' receiver {alert.receiver}' if alert.receiver else ''}"
        severity = facts.labels.get("severity", "")
        incident_id = open_incident(conn, title, opened_by, severity=severity, group_key=group_key)
    conn.execute(
        "INSERT INTO incident_alerts (incident_id, fingerprint, starts_at, notification_id,"
        " position, received_at, status, alertname, labels, generator_url)"
        " VALUES (?, ?, ?, ?, ?, ?, 'firing', ?, ?, ?)",
        (
            *(incident_id, facts.fingerprint, facts.starts_at, alert.notification_id),
            *(alert.position, alert.received_at, facts.alertname),
            *(json.dumps(dict(facts.labels), sort_keys=True), facts.generator_url),
        ),
    )
    return incident_id


def _holder(conn: sqlite3.Connection, fingerprint: str, starts_at: str) -> str | None:
    row = conn.execute(
        "SELECT incident_id FROM incident_alerts WHERE fingerprint = ? AND starts_at = ?",
        (fingerprint, starts_at),
    ).fetchone()
    return str(row[0]) if row else None


def _resolved_before(conn: sqlite3.Connection, facts: InboxAlert) -> bool:
    """Whether this firing's resolved notification came before this (late) copy."""
    row = conn.execute(
        "SELECT 1 FROM inbox WHERE fingerprint = ? AND starts_at = ? AND status = 'resolved'"
        " LIMIT 1",
        (facts.fingerprint, facts.starts_at),
    ).fetchone()
    return row is not None


def _group_key(conn: sqlite3.Connection, notification_id: str) -> str:
    row = conn.execute(
        "SELECT group_key FROM notifications WHERE notification_id = ?", (notification_id,)
    ).fetchone()
    return str(row[0]) if row else ""


# The newest incident, not resolved by a human, with an alert still firing, that holds
# this fingerprint (found through the alerts' primary key), or else was opened by this
# Alertmanager group (through its index).
_OPEN_WITH_FINGERPRINT = """
SELECT i.incident_id FROM incident_alerts AS a JOIN incidents AS i USING (incident_id)
WHERE a.fingerprint = ? AND i.resolved IS NULL AND EXISTS (SELECT 1 FROM incident_alerts
    AS f WHERE f.incident_id = i.incident_id AND f.status = 'firing')
ORDER BY i.opened_at DESC, i.incident_id DESC LIMIT 1
"""
_OPEN_OF_GROUP = """
SELECT i.incident_id FROM incidents AS i
WHERE i.group_key = ? AND i.resolved IS NULL AND EXISTS (SELECT 1 FROM incident_alerts
    AS f WHERE f.incident_id = i.incident_id AND f.status = 'firing')
ORDER BY i.opened_at DESC, i.incident_id DESC LIMIT 1
"""


def _open_for(conn: sqlite3.Connection, fingerprint: str, group_key: str) -> str | None:
    row = conn.execute(_OPEN_WITH_FINGERPRINT, (fingerprint,)).fetchone()
    if row is None and group_key:
        row = conn.execute(_OPEN_OF_GROUP, (group_key,)).fetchone()
    return str(row[0]) if row else None


def _title_from(facts: InboxAlert) -> str:
    shown = ", ".join(f"{k}={v}" for k, v in sorted(facts.labels.items()) if k != "alertname")
    return f"{facts.alertname or 'alert'}{f' ({shown})' if shown else ''}"


def _end_firing(conn: sqlite3.Connection, alert: Pending, facts: InboxAlert) -> None:
    conn.execute(
        "UPDATE incident_alerts SET status = 'resolved', ends_at = ?, resolved_by = ?"
        " WHERE fingerprint = ? AND starts_at = ? AND status = 'firing'",
        (facts.ends_at, alert.notification_id, facts.fingerprint, facts.starts_at),
    )


def add_note(conn: sqlite3.Connection, incident_id: str, author: str, text: str) -> str:
    """A human's note on an incident; its id."""
    note_id = new_id("m")
    conn.execute(
        "INSERT INTO incident_notes VALUES (?, ?, ?, ?, ?)",
        (note_id, incident_id, time.time(), author, text),
    )
    return note_id


_SET_TIMES = """
UPDATE incidents SET impact_started = coalesce(:impact_started, impact_started),
    detected = coalesce(:detected, detected),
    response_started = coalesce(:response_started, response_started),
    mitigated = coalesce(:mitigated, mitigated), resolved = coalesce(:resolved, resolved)
WHERE incident_id = :id
"""


_CLEAR_TIMES = """
UPDATE incidents SET
    impact_started = CASE WHEN :impact_started THEN NULL ELSE impact_started END,
    detected = CASE WHEN :detected THEN NULL ELSE detected END,
    response_started = CASE WHEN :response_started THEN NULL ELSE response_started END,
    mitigated = CASE WHEN :mitigated THEN NULL ELSE mitigated END,
    resolved = CASE WHEN :resolved THEN NULL ELSE resolved END
WHERE incident_id = :id
"""


def set_times(
    conn: sqlite3.Connection,
    incident_id: str,
    changes: Mapping[str, float],
    clear: Sequence[str] = (),
) -> IncidentRecord:
    """Store a human's times, after taking back those named in `clear` (the record's
    apply again), checked against every time that stands (read in the same transaction:
    a concurrent writer is either before it or after it); OrderError (nothing written)
    when one breaks the order. The incident as it now is."""
    unknown = (set(changes) | set(clear)) - set(TIMES)
    if unknown:
        raise ValueError(f"unknown incident times {sorted(unknown)}")
    if clear:
        flags = {name: name in clear for name in TIMES}
        conn.execute(_CLEAR_TIMES, {**flags, "id": incident_id})
    check_human(read(conn, incident_id).times, changes)
    conn.execute(_SET_TIMES, {**dict.fromkeys(TIMES), **changes, "id": incident_id})
    return read(conn, incident_id)


def attach(conn: sqlite3.Connection, incident_id: str, run_id: str, by: str) -> bool:
    """Make run `run_id` a member of the incident; False if it already is. UsageError
    when it belongs to another incident."""
    other = owner_of_run(conn, run_id)
    if other == incident_id:
        return False
    if other is not None:
        raise UsageError(
            f"run {run_id} already belongs to incident {other}",
            f"`runbook show {other}` shows it; a run belongs to one incident",
        )
    conn.execute(
        "INSERT INTO incident_runs VALUES (?, ?, ?, ?)", (run_id, incident_id, time.time(), by)
    )
    return True


def owner_of_run(conn: sqlite3.Connection, run_id: str) -> str | None:
    """The incident a run belongs to: attached to it, or started by one of its alerts."""
    row = conn.execute(
        "SELECT incident_id FROM incident_runs WHERE run_id = ? UNION ALL"
        " SELECT a.incident_id FROM triggers AS t JOIN incident_alerts AS a"
        " USING (fingerprint, starts_at) WHERE t.run_id = ? LIMIT 1",
        (run_id, run_id),
    ).fetchone()
    return str(row[0]) if row else None


# -- reading ------------------------------------------------------------------------------


def resolve_id(conn: sqlite3.Connection, prefix: str) -> str:
    """The incident id `prefix` names (an exact id, or a unique prefix); LedgerError."""
    rows = conn.execute(
        "SELECT incident_id FROM incidents WHERE incident_id >= ? AND incident_id < ?"
        " ORDER BY incident_id LIMIT 6",
        (prefix, prefix + "\U0010ffff"),
    ).fetchall()
    found = [str(row[0]) for row in rows]
    if prefix and prefix in found:
        return prefix
    if len(found) == 1 and prefix:
        return found[0]
    if not found or not prefix:
        raise LedgerError(f"no incident {prefix!r} in the ledger", hint="`runbook incidents --all`")
    raise LedgerError(
        f"incident id {prefix!r} is ambiguous: {', '.join(found[:5])}",
        hint="give more characters of the id",
    )


def read(conn: sqlite3.Connection, incident_id: str) -> IncidentRecord:
    """One incident (exact id) with its times as they stand and its members."""
    row = conn.execute("SELECT * FROM incidents WHERE incident_id = ?", (incident_id,)).fetchone()
    if row is None:
        raise LedgerError(f"no incident {incident_id!r} in the ledger")
    alerts = _alerts(conn, incident_id)
    proposals = _proposals(conn, incident_id)
    attached = _attached(conn, incident_id)
    runs = _member_runs(conn, incident_id)
    human = {name: float(row[name]) for name in TIMES if row[name] is not None}
    times = settle(human, _record_times(conn, alerts, runs))
    return IncidentRecord(
        *(incident_id, row["title"], row["severity"], row["playbook"], row["opened_at"]),
        *(row["opened_by"], row["group_key"], _status(times), times, alerts),
        [run_id for run_id, _, _ in runs],
        attached,
        proposals,
        _notes(conn, incident_id),
    )


def _status(times: Mapping[str, TimeOf]) -> str:
    if times[RESOLVED].at is not None:
        return RESOLVED_STATUS
    return MITIGATED_STATUS if times[MITIGATED].at is not None else OPEN


def _alerts(conn: sqlite3.Connection, incident_id: str) -> list[IncidentAlert]:
    rows = conn.execute(
        "SELECT notification_id, position, received_at, fingerprint, alertname, labels,"
        " starts_at, ends_at, status, generator_url, resolved_by FROM incident_alerts"
        " WHERE incident_id = ? ORDER BY received_at, notification_id, position",
        (incident_id,),
    ).fetchall()
    return [_alert(dict(row)) for row in rows]


def _alert(row: dict[str, Any]) -> IncidentAlert:
    return IncidentAlert(**{**row, "labels": json.loads(row["labels"])})


def _proposals(conn: sqlite3.Connection, incident_id: str) -> list[IncidentProposal]:
    rows = conn.execute(
        "SELECT t.trigger_id, t.playbook, t.state, t.run_id FROM triggers AS t"
        " JOIN incident_alerts AS a USING (fingerprint, starts_at)"
        " WHERE a.incident_id = ? AND t.decision = 'proposed' ORDER BY t.trigger_id",
        (incident_id,),
    ).fetchall()
    return [IncidentProposal(*row) for row in rows]


def _attached(conn: sqlite3.Connection, incident_id: str) -> list[str]:
    rows = conn.execute(
        "SELECT run_id FROM incident_runs WHERE incident_id = ? ORDER BY attached_at",
        (incident_id,),
    ).fetchall()
    return [str(row[0]) for row in rows]


# The runs of an incident: started by its alerts' decisions (a run, or an approved
# proposal), or attached to it; each with its start and status.
_MEMBER_RUNS = """
SELECT r.run_id, r.started_at, r.status FROM runs AS r WHERE r.run_id IN (
    SELECT t.run_id FROM triggers AS t JOIN incident_alerts AS a USING (fingerprint, starts_at)
    WHERE a.incident_id = :id AND t.decision IN ('run', 'proposed') AND t.run_id IS NOT NULL
    UNION SELECT run_id FROM incident_runs WHERE incident_id = :id
) ORDER BY r.started_at, r.run_id
"""


def _member_runs(conn: sqlite3.Connection, incident_id: str) -> list[tuple[str, float, str]]:
    rows = conn.execute(_MEMBER_RUNS, {"id": incident_id}).fetchall()
    return [(str(row[0]), float(row[1]), str(row[2])) for row in rows]


def _notes(conn: sqlite3.Connection, incident_id: str) -> list[IncidentNote]:
    rows = conn.execute(
        "SELECT note_id, at, author, text FROM incident_notes WHERE incident_id = ?"
        " ORDER BY at, note_id",
        (incident_id,),
    ).fetchall()
    return [IncidentNote(*row) for row in rows]


def _record_times(
    conn: sqlite3.Connection,
    alerts: Sequence[IncidentAlert],
    runs: Sequence[tuple[str, float, str]],
) -> dict[str, float]:
    """What the record says of each time it knows (see the module's docstring)."""
    found: dict[str, float | None] = {
        IMPACT_STARTED: _earliest(epoch_of(a.starts_at) for a in alerts),
        DETECTED: _earliest(a.received_at for a in alerts),
        RESPONSE_STARTED: _earliest(started for _, started, _ in runs),
        MITIGATED: _earliest(
            _recovered_at(conn, run_id) for run_id, _, s in runs if s == "recovered"
        ),
    }
    if alerts and all(a.status == "resolved" for a in alerts):
        ends = [epoch_of(a.ends_at) for a in alerts]
        found[RESOLVED] = None if None in ends else max(e for e in ends if e is not None)
    return {name: at for name, at in found.items() if at is not None}


def _earliest(values: Iterable[float | None]) -> float | None:
    known = [value for value in values if value is not None]
    return min(known) if known else None


def _recovered_at(conn: sqlite3.Connection, run_id: str) -> float | None:
    """When the SLI of a run that ended `recovered` turned healthy for good: the first
    healthy sample after its last unhealthy one (not the pre-check); its end without
    samples."""
    rows = conn.execute(
        "SELECT ts, json_extract(data, '$.verdict'), json_extract(data, '$.sample_ts'),"
        " json_extract(data, '$.phase'), kind FROM events WHERE run_id = ?"
        " AND kind IN ('sli_sample', 'run_finished') ORDER BY seq",
        (run_id,),
    ).fetchall()
    turned: float | None = None
    ended: float | None = None
    for ts, verdict, sample_ts, phase, kind in rows:
        if kind == "run_finished":
            ended = float(ts)
        elif phase != "pre-check":
            healthy = verdict == "healthy"
            turned = (turned or float(sample_ts or ts)) if healthy else None
    return turned if turned is not None else ended


def listing(
    conn: sqlite3.Connection, *, since: float | None, limit: int, open_only: bool = False
) -> list[IncidentRecord]:
    """Incidents opened since `since` (all without it), newest first; with `open_only`,
    those not resolved (by a human, or by the record)."""
    rows = conn.execute(
        "SELECT incident_id FROM incidents WHERE opened_at >= ? AND (? = 0 OR resolved IS NULL)"
        " ORDER BY opened_at DESC, incident_id DESC",
        (since if since is not None else float("-inf"), int(open_only)),
    ).fetchall()
    found: list[IncidentRecord] = []
    for (incident_id,) in rows:
        record = read(conn, str(incident_id))
        if not open_only or record.status != RESOLVED_STATUS:
            found.append(record)
        if len(found) >= limit:
            break
    return found
