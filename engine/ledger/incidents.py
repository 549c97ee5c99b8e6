"""Incidents (schema v5): what belongs together when something broke — the alerts that
opened it, its runs, proposals and approvals, human notes — and the times a human set.
Reading one whole is `engine/ledger/incident_record.py`.

How alerts group (in the transaction that records the decisions on them, so that the
deciding thread of `runbook serve` and a human at the CLI never lose each other's
writes):

- a firing alert whose firing (fingerprint, startsAt) an incident already holds belongs
  to it: a resend, a copy from an Alertmanager HA peer, a late copy after the resolved
  one, all land in the same incident and add nothing;
- otherwise it joins the newest open incident (not resolved by a human, an alert of it
  still firing) that holds an alert with the same fingerprint, or, failing that, the
  newest open one opened by an alert of the same Alertmanager group (`groupKey`);
- otherwise, when `reopen_within` (seconds, `runbook serve`'s incidents.reopen_within)
  is set, it reopens the newest incident holding its fingerprint if the record resolved
  that incident (not a human) and this firing started within that long of its resolved
  time (a flapping alert): the firing joins it, its record resolved time is taken back,
  and the reopening is recorded (`incident_reopenings`);
- otherwise it opens a new incident. A resolved alert never opens one; it ends its
  firing in the incident that holds it;
- a new firing of a fingerprint first ends its earlier firing still open here, at the
  new one's startsAt: Alertmanager replaced it (it resolved and fired again within the
  group interval) and will never send its resolved notification.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Mapping, Sequence
from itertools import pairwise

from engine.core.errors import UsageError
from engine.ledger.inbox import InboxAlert, Pending
from engine.ledger.incident_record import IncidentRecord, read
from engine.ledger.incident_times import RESOLVED, TIMES, check_human, epoch_of
from engine.ledger.model import new_id

# the run modes (engine/core/run_modes.py) attach tells apart
DRILL_MODE, TABLETOP_MODE = "drill", "tabletop"

SCHEMA = """
CREATE TABLE incidents (
    incident_id TEXT PRIMARY KEY,
    title TEXT NOT NULL, severity TEXT NOT NULL DEFAULT '', playbook TEXT NOT NULL DEFAULT '',
    opened_at REAL NOT NULL, opened_by TEXT NOT NULL,
    -- the Alertmanager group of the alert that opened it ('' when a human opened it)
    group_key TEXT NOT NULL DEFAULT '',
    -- the times a human set (NULL: the record's, read when the incident is read)
    impact_started REAL, detected REAL, response_started REAL, mitigated REAL, resolved REAL,
    -- the record's resolved time (the last endsAt) once every alert of it is resolved,
    -- stored by the write that ends its last firing, so that `runbook incidents --open`
    -- is a query; NULL while one fires or when an end is not a time
    record_resolved REAL
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
CREATE INDEX incident_notes_by_incident ON incident_notes (incident_id, at);
-- a firing that reopened the incident the record had resolved (`runbook serve`'s
-- incidents.reopen_within): when, the firing, and the resolved time it took back
CREATE TABLE incident_reopenings (
    incident_id TEXT NOT NULL REFERENCES incidents (incident_id),
    at REAL NOT NULL, fingerprint TEXT NOT NULL, starts_at TEXT NOT NULL,
    alertname TEXT NOT NULL, resolved_at REAL NOT NULL,
    PRIMARY KEY (fingerprint, starts_at)
) WITHOUT ROWID;
CREATE INDEX incident_reopenings_by_incident ON incident_reopenings (incident_id, at)
"""


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


def on_alert(
    conn: sqlite3.Connection, alert: Pending, facts: InboxAlert, reopen_within: float = 0.0
) -> str | None:
    """An alert decided on: a firing one opens, joins or reopens an incident (see the
    module's rules), a resolved one ends its firing in the incident holding it; the
    incident's id (None: a resolved alert no incident holds, or a firing resolved before
    it was seen)."""
    if not facts.fingerprint:
        return None
    held = _holder(conn, facts.fingerprint, facts.starts_at)
    if facts.status == "resolved":
        if held is not None:
            _end_firing(conn, alert, facts)
            store_record_resolved(conn, held)
        return held
    if held is not None or _resolved_before(conn, facts):
        return held
    _end_replaced_firings(conn, alert.notification_id, facts.fingerprint, facts.starts_at)
    group_key = _group_key(conn, alert.notification_id)
    incident_id = _open_for(conn, facts.fingerprint, group_key)
    if incident_id is None and reopen_within > 0:
        incident_id = _reopen(conn, alert, facts, reopen_within)
    if incident_id is None:
        title = facts.summary or _title_from(facts)
        opened_by = f"alertmanager{f' receiver {alert.receiver}' if alert.receiver else ''}"
        severity = facts.labels.get("severity", "")
        incident_id = open_incident(conn, title, opened_by, severity=severity, group_key=group_key)
    first = _first_notification(conn, facts) or alert
    conn.execute(
        "INSERT INTO incident_alerts (incident_id, fingerprint, starts_at, notification_id,"
        " position, received_at, status, alertname, labels, generator_url)"
        " VALUES (?, ?, ?, ?, ?, ?, 'firing', ?, ?, ?)",
        (
            *(incident_id, facts.fingerprint, facts.starts_at, first.notification_id),
            *(first.position, first.received_at, facts.alertname),
            *(json.dumps(dict(facts.labels), sort_keys=True), facts.generator_url),
        ),
    )
    _end_replaced_firings(conn, alert.notification_id, facts.fingerprint)
    store_record_resolved(conn, incident_id)
    return incident_id


# The newest incident holding a fingerprint: whether a human resolved it, and the
# record's resolved time.
_NEWEST_WITH_FINGERPRINT = """
SELECT i.incident_id, i.resolved, i.record_resolved FROM incident_alerts AS a
JOIN incidents AS i USING (incident_id) WHERE a.fingerprint = ?
ORDER BY i.opened_at DESC, i.incident_id DESC LIMIT 1
"""


def _reopen(
    conn: sqlite3.Connection, alert: Pending, facts: InboxAlert, within: float
) -> str | None:
    """The incident this firing reopens, its reopening recorded: the newest holding its
    fingerprint, if the record resolved it (not a human) and the firing started (its
    startsAt, else when it was received) at most `within` seconds after that."""
    row = conn.execute(_NEWEST_WITH_FINGERPRINT, (facts.fingerprint,)).fetchone()
    if row is None or row[1] is not None or row[2] is None:
        return None
    incident_id, resolved_at = str(row[0]), float(row[2])
    started = epoch_of(facts.starts_at)
    if (started if started is not None else alert.received_at) - resolved_at > within:
        return None
    conn.execute(
        "INSERT INTO incident_reopenings VALUES (?, ?, ?, ?, ?, ?)",
        (
            *(incident_id, alert.received_at, facts.fingerprint, facts.starts_at),
            *(facts.alertname, resolved_at),
        ),
    )
    return incident_id


def store_record_resolved(conn: sqlite3.Connection, incident_id: str) -> None:
    """Store what the record says of the incident's resolved time, in the transaction
    that changed its alerts: the last endsAt once all are resolved; NULL while one fires,
    when an end is not a time or when it is before the earliest startsAt."""
    rows = conn.execute(
        "SELECT status, starts_at, ends_at FROM incident_alerts WHERE incident_id = ?",
        (incident_id,),
    ).fetchall()
    ends = [epoch_of(str(ends_at)) if status == "resolved" else None for status, _, ends_at in rows]
    resolved = None if not ends or None in ends else max(e for e in ends if e is not None)
    starts = [at for _, starts_at, _ in rows if (at := epoch_of(str(starts_at))) is not None]
    if resolved is not None and starts and min(starts) > resolved:
        resolved = None  # before its impact started: not applied (see incident_times)
    conn.execute(
        "UPDATE incidents SET record_resolved = ? WHERE incident_id = ?", (resolved, incident_id)
    )


def _end_replaced_firings(
    conn: sqlite3.Connection, notification_id: str, fingerprint: str, arriving: str = ""
) -> None:
    """Alertmanager keeps one alert per fingerprint: a firing that resolved and fired
    again within the group interval is replaced by the new firing before any resolved
    notification of it is sent. Of the firings of `fingerprint` still open here (and one
    `arriving`, its startsAt), each but the latest ended when the next one started (its
    endsAt), by the notification that brought the newer one."""
    rows = conn.execute(
        "SELECT starts_at FROM incident_alerts WHERE fingerprint = ? AND status = 'firing'",
        (fingerprint,),
    ).fetchall()
    starts = {str(starts_at) for (starts_at,) in rows} | ({arriving} if arriving else set())
    timed = sorted((at, text) for text in starts if (at := epoch_of(text)) is not None)
    for (_, replaced), (_, replacing) in pairwise(timed):
        ended = conn.execute(
            "UPDATE incident_alerts SET status = 'resolved', ends_at = ?, resolved_by = ?"
            " WHERE fingerprint = ? AND starts_at = ? AND status = 'firing'"
            " RETURNING incident_id",
            (replacing, notification_id, fingerprint, replaced),
        ).fetchall()
        for (incident_id,) in ended:
            store_record_resolved(conn, str(incident_id))


def _first_notification(conn: sqlite3.Connection, facts: InboxAlert) -> Pending | None:
    """The first notification the inbox holds of this firing: the one deciding now, or
    an earlier one no incident holds (received before the ledger had incidents)."""
    row = conn.execute(
        "SELECT i.notification_id, i.position, n.received_at, n.receiver FROM inbox AS i"
        " JOIN notifications AS n USING (notification_id) WHERE i.fingerprint = ?"
        " AND i.starts_at = ? AND i.status = 'firing'"
        " ORDER BY n.received_at, i.notification_id, i.position LIMIT 1",
        (facts.fingerprint, facts.starts_at),
    ).fetchone()
    return Pending(str(row[0]), int(row[1]), float(row[2]), str(row[3])) if row else None


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


# A firing still open, or one ended by the next firing of its alert (its endsAt that
# firing's startsAt) whose own resolved notification came after all: its endsAt holds.
_END_FIRING = """
UPDATE incident_alerts SET status = 'resolved', ends_at = :ends_at, resolved_by = :by
WHERE fingerprint = :fingerprint AND starts_at = :starts_at AND (status = 'firing'
    OR ends_at IN (SELECT n.starts_at FROM incident_alerts AS n
        WHERE n.fingerprint = :fingerprint AND n.starts_at != :starts_at))
"""


def _end_firing(conn: sqlite3.Connection, alert: Pending, facts: InboxAlert) -> None:
    conn.execute(
        _END_FIRING,
        {
            "ends_at": facts.ends_at,
            "by": alert.notification_id,
            "fingerprint": facts.fingerprint,
            "starts_at": facts.starts_at,
        },
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


def resolve(conn: sqlite3.Connection, incident_id: str, at: float) -> tuple[IncidentRecord, bool]:
    """Resolve the incident as a human at `at`, unless a resolved time already stands (a
    human's or the record's): a second `resolve` does not move it. The incident as it now
    is, and whether it was resolved now."""
    record = read(conn, incident_id)
    if record.times[RESOLVED].at is not None:
        return record, False
    return set_times(conn, incident_id, {RESOLVED: at}), True


def attach(conn: sqlite3.Connection, incident_id: str, run_id: str, by: str) -> bool:
    """Make run `run_id` a member of the incident; False if it already is. UsageError
    when it, a run it is part of (its drill, the run it rolled back) or a run part of it
    belongs to another incident, when it is part of a drill (the drill is attached), or
    when it is a tabletop (it executed nothing)."""
    lineage = _lineage(conn, run_id)
    if lineage and lineage[0][1] == TABLETOP_MODE:
        raise UsageError(
            f"run {run_id} is a tabletop exercise: it executed nothing, it is no response",
            "attach the runs that acted on the incident",
        )
    # the drill itself: the farthest run of mode drill it is part of
    drill = next((run for run, mode in reversed(lineage[1:]) if mode == DRILL_MODE), None)
    if drill is not None:
        raise UsageError(
            f"run {run_id} is part of drill {drill}",
            f"attach the drill, which stands for all of its runs:"
            f" runbook incident attach {incident_id} {drill}",
        )
    own = _own_incident(conn, run_id)
    if own == incident_id:
        return False
    for through, other in [("", own), *_related_owners(conn, run_id, lineage)]:
        if other is not None and other != incident_id:
            raise UsageError(
                f"run {run_id} already belongs to incident {other}{through}",
                f"`runbook show {other}` shows it; a run belongs to one incident, with the"
                " runs it is part of (a drill, the run a rollback undid) and part of it",
            )
    conn.execute(
        "INSERT INTO incident_runs VALUES (?, ?, ?, ?)", (run_id, incident_id, time.time(), by)
    )
    return True


def owner_of_run(conn: sqlite3.Connection, run_id: str) -> str | None:
    """The incident a run belongs to: attached to it, or started by one of its alerts;
    else the incident of the run it is part of (its drill, the run it rolled back)."""
    for run, _ in _lineage(conn, run_id):
        found = _own_incident(conn, run)
        if found is not None:
            return found
    return None


def _own_incident(conn: sqlite3.Connection, run_id: str) -> str | None:
    row = conn.execute(
        "SELECT incident_id FROM incident_runs WHERE run_id = ? UNION ALL"
        " SELECT a.incident_id FROM triggers AS t JOIN incident_alerts AS a"
        " USING (fingerprint, starts_at) WHERE t.run_id = ? LIMIT 1",
        (run_id, run_id),
    ).fetchone()
    return str(row[0]) if row else None


# A run and the runs it is part of (parent_run: a drill, the run a rollback undid),
# nearest first; and the runs part of it, at any depth.
_ANCESTORS = """
WITH RECURSIVE up (run_id, parent_run, mode, depth) AS (
    SELECT run_id, parent_run, mode, 0 FROM runs WHERE run_id = ?
    UNION ALL SELECT r.run_id, r.parent_run, r.mode, up.depth + 1
    FROM runs AS r JOIN up ON r.run_id = up.parent_run WHERE up.depth < 32
) SELECT run_id, mode FROM up ORDER BY depth
"""
_DESCENDANTS = """
WITH RECURSIVE down (run_id, depth) AS (
    SELECT run_id, 1 FROM runs WHERE parent_run = ?
    UNION ALL SELECT r.run_id, down.depth + 1
    FROM runs AS r JOIN down ON r.parent_run = down.run_id WHERE down.depth < 32
) SELECT run_id FROM down
"""


def _lineage(conn: sqlite3.Connection, run_id: str) -> list[tuple[str, str]]:
    return [(str(run), str(mode)) for run, mode in conn.execute(_ANCESTORS, (run_id,))]


def _related_owners(
    conn: sqlite3.Connection, run_id: str, lineage: Sequence[tuple[str, str]]
) -> list[tuple[str, str | None]]:
    """The incidents of the runs `run_id` is part of, and of the runs part of it, each
    with how it is related."""
    above = [(f" through run {run}, which it is part of", run) for run, _ in lineage[1:]]
    below = [
        (f" through run {row[0]}, part of it", str(row[0]))
        for row in conn.execute(_DESCENDANTS, (run_id,))
    ]
    return [(through, _own_incident(conn, run)) for through, run in above + below]
