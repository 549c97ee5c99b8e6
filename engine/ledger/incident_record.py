"""An incident read whole (`Ledger.incident`): its alerts, members, notes, and its
lifecycle times as they stand.

What the record says of the times is read when an incident is read, never stored:
impact started is the earliest alert's startsAt; detected, the receipt of the first
notification of it; response started, the start of the first member run; mitigated,
when the SLI of the first member run that ended `recovered` turned healthy for good;
resolved, the last endsAt once every alert of the incident is resolved. A human's times
are stored, and win; the order is kept by `engine/ledger/incident_times.py`.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from msgspec import Struct

from engine.core.errors import LedgerError
from engine.ledger.incident_times import (
    DETECTED,
    IMPACT_STARTED,
    MITIGATED,
    RESOLVED,
    RESPONSE_STARTED,
    TIMES,
    TimeOf,
    epoch_of,
    settle,
)

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
    approved, resolved …) and, once approved, the run that carried it out, who approved
    it (that run's operator) and when (its start)."""

    trigger_id: str
    playbook: str | None
    state: str | None
    run_id: str | None
    approved_by: str | None = None
    approved_at: float | None = None


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
        "SELECT t.trigger_id, t.playbook, t.state, t.run_id, r.operator, r.started_at"
        " FROM triggers AS t JOIN incident_alerts AS a USING (fingerprint, starts_at)"
        " LEFT JOIN runs AS r ON r.run_id = t.run_id"
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
