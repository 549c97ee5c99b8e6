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
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

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

_T = TypeVar("_T")

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


class IncidentReopening(Struct, frozen=True):
    """A firing that reopened the incident after the record had resolved it: when it was
    received, the firing (fingerprint, alertname, startsAt), and the resolved time it
    took back."""

    at: float
    fingerprint: str
    alertname: str
    starts_at: str
    resolved_at: float


class IncidentRecord(Struct, frozen=True):
    """An incident whole, as `Ledger.incident` reads it.

    `times` maps each of `incident_times.TIMES` (impact_started, detected,
    response_started, mitigated, resolved) to a `TimeOf`: when (epoch seconds or None),
    its source (`record` or `human`), and why a record time was left out (`ignored`).
    `status` is `resolved` when a resolved time stands, else `mitigated` when a mitigated
    time does, else `open`. `alerts` are the firings that opened or joined it, oldest
    first; `run_ids` its member runs in start order (the runs its alerts started, those
    of its approved proposals, and those attached by hand: `attached`); `proposals`
    those its alerts made; `notes` oldest first; `reopenings` the firings that reopened
    it after the record had resolved it, oldest first."""

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
    reopenings: list[IncidentReopening] = []

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
    found = read_many(conn, [incident_id])
    if not found:
        raise LedgerError(f"no incident {incident_id!r} in the ledger")
    return found[0]


# ids per query: well under SQLite's limit on the parameters of one statement
_BATCH = 500


def read_many(conn: sqlite3.Connection, incident_ids: Sequence[str]) -> list[IncidentRecord]:
    """The incidents `incident_ids` names (those there are), in that order, each read
    whole: a few queries for each batch of ids, not a few for each incident."""
    found: list[IncidentRecord] = []
    for first in range(0, len(incident_ids), _BATCH):
        found.extend(_read_batch(conn, list(incident_ids[first : first + _BATCH])))
    return found


def _read_batch(conn: sqlite3.Connection, ids: list[str]) -> list[IncidentRecord]:
    marks = json.dumps(ids)
    rows = {
        str(row["incident_id"]): row
        for row in conn.execute(
            "SELECT * FROM incidents WHERE incident_id IN (SELECT value FROM json_each(?))",
            (marks,),
        )
    }
    alerts = _alerts(conn, marks)
    proposals = _proposals(conn, marks)
    attached = _attached(conn, marks)
    runs = _member_runs(conn, marks)
    recovered = _recovered_at(
        conn, [run for found in runs.values() for run, _, status in found if status == "recovered"]
    )
    notes = _notes(conn, marks)
    reopenings = _reopenings(conn, marks)
    records = []
    for incident_id in (found for found in ids if found in rows):
        row = rows[incident_id]
        human = {name: float(row[name]) for name in TIMES if row[name] is not None}
        its_alerts, its_runs = alerts.get(incident_id, []), runs.get(incident_id, [])
        times = settle(human, _record_times(its_alerts, its_runs, recovered))
        records.append(
            IncidentRecord(
                *(incident_id, row["title"], row["severity"], row["playbook"]),
                *(row["opened_at"], row["opened_by"], row["group_key"], _status(times)),
                *(times, its_alerts, [run_id for run_id, _, _ in its_runs]),
                attached.get(incident_id, []),
                proposals.get(incident_id, []),
                notes.get(incident_id, []),
                reopenings.get(incident_id, []),
            )
        )
    return records


def _status(times: Mapping[str, TimeOf]) -> str:
    if times[RESOLVED].at is not None:
        return RESOLVED_STATUS
    return MITIGATED_STATUS if times[MITIGATED].at is not None else OPEN


def _grouped(
    rows: Iterable[Sequence[Any]], make: Callable[[Sequence[Any]], _T]
) -> dict[str, list[_T]]:
    """Rows whose first column is an incident id, made into items by incident, in order."""
    found: dict[str, list[_T]] = {}
    for row in rows:
        found.setdefault(str(row[0]), []).append(make(row[1:]))
    return found


def _alerts(conn: sqlite3.Connection, ids: str) -> dict[str, list[IncidentAlert]]:
    rows = conn.execute(
        "SELECT incident_id, notification_id, position, received_at, fingerprint, alertname,"
        " labels, starts_at, ends_at, status, generator_url, resolved_by FROM incident_alerts"
        " WHERE incident_id IN (SELECT value FROM json_each(?))"
        " ORDER BY received_at, notification_id, position",
        (ids,),
    ).fetchall()
    return _grouped(rows, _alert)


_ALERT_FIELDS = IncidentAlert.__struct_fields__


def _alert(row: Sequence[Any]) -> IncidentAlert:
    fields = dict(zip(_ALERT_FIELDS, row, strict=True))
    return IncidentAlert(**{**fields, "labels": json.loads(fields["labels"])})


def _proposals(conn: sqlite3.Connection, ids: str) -> dict[str, list[IncidentProposal]]:
    rows = conn.execute(
        "SELECT a.incident_id, t.trigger_id, t.playbook, t.state, t.run_id, r.operator,"
        " r.started_at FROM triggers AS t JOIN incident_alerts AS a USING (fingerprint, starts_at)"
        " LEFT JOIN runs AS r ON r.run_id = t.run_id"
        " WHERE a.incident_id IN (SELECT value FROM json_each(?)) AND t.decision = 'proposed'"
        " ORDER BY t.trigger_id",
        (ids,),
    ).fetchall()
    return _grouped(rows, lambda row: IncidentProposal(*row))


def _attached(conn: sqlite3.Connection, ids: str) -> dict[str, list[str]]:
    rows = conn.execute(
        "SELECT incident_id, run_id FROM incident_runs"
        " WHERE incident_id IN (SELECT value FROM json_each(?))"
        " ORDER BY attached_at",
        (ids,),
    ).fetchall()
    return _grouped(rows, lambda row: str(row[0]))


# The runs of incidents: started by their alerts' decisions (a run, or an approved
# proposal), or attached to them; each with its start and status.
_MEMBER_RUNS = """
SELECT m.incident_id, r.run_id, r.started_at, r.status FROM (
    SELECT a.incident_id, t.run_id FROM triggers AS t
    JOIN incident_alerts AS a USING (fingerprint, starts_at)
    WHERE a.incident_id IN (SELECT value FROM json_each(?)) AND t.decision IN ('run', 'proposed')
        AND t.run_id IS NOT NULL
    UNION SELECT incident_id, run_id FROM incident_runs
    WHERE incident_id IN (SELECT value FROM json_each(?))
) AS m JOIN runs AS r USING (run_id) ORDER BY r.started_at, r.run_id
"""


def _member_runs(conn: sqlite3.Connection, ids: str) -> dict[str, list[tuple[str, float, str]]]:
    rows = conn.execute(_MEMBER_RUNS, (ids, ids)).fetchall()
    return _grouped(rows, lambda row: (str(row[0]), float(row[1]), str(row[2])))


def _notes(conn: sqlite3.Connection, ids: str) -> dict[str, list[IncidentNote]]:
    rows = conn.execute(
        "SELECT incident_id, note_id, at, author, text FROM incident_notes"
        " WHERE incident_id IN (SELECT value FROM json_each(?)) ORDER BY at, note_id",
        (ids,),
    ).fetchall()
    return _grouped(rows, lambda row: IncidentNote(*row))


def _reopenings(conn: sqlite3.Connection, ids: str) -> dict[str, list[IncidentReopening]]:
    rows = conn.execute(
        "SELECT incident_id, at, fingerprint, alertname, starts_at, resolved_at"
        " FROM incident_reopenings WHERE incident_id IN (SELECT value FROM json_each(?))"
        " ORDER BY at, fingerprint",
        (ids,),
    ).fetchall()
    return _grouped(rows, lambda row: IncidentReopening(*row))


def _record_times(
    alerts: Sequence[IncidentAlert],
    runs: Sequence[tuple[str, float, str]],
    recovered: Mapping[str, float],
) -> dict[str, float]:
    """What the record says of each time it knows (see the module's docstring)."""
    found: dict[str, float | None] = {
        IMPACT_STARTED: _earliest(epoch_of(a.starts_at) for a in alerts),
        DETECTED: _earliest(a.received_at for a in alerts),
        RESPONSE_STARTED: _earliest(started for _, started, _ in runs),
        MITIGATED: _earliest(recovered.get(run_id) for run_id, _, s in runs if s == "recovered"),
    }
    if alerts and all(a.status == "resolved" for a in alerts):
        ends = [epoch_of(a.ends_at) for a in alerts]
        found[RESOLVED] = None if None in ends else max(e for e in ends if e is not None)
    return {name: at for name, at in found.items() if at is not None}


def _earliest(values: Iterable[float | None]) -> float | None:
    known = [value for value in values if value is not None]
    return min(known) if known else None


def _recovered_at(conn: sqlite3.Connection, run_ids: Sequence[str]) -> dict[str, float]:
    """When the SLI of each run that ended `recovered` turned healthy for good: the first
    healthy sample after its last unhealthy one (not the pre-check); its end without
    samples."""
    found: dict[str, float] = {}
    for first in range(0, len(run_ids), _BATCH):
        batch = list(run_ids[first : first + _BATCH])
        rows = conn.execute(
            "SELECT run_id, ts, json_extract(data, '$.verdict'),"
            " json_extract(data, '$.sample_ts'), json_extract(data, '$.phase'), kind"
            " FROM events WHERE run_id IN (SELECT value FROM json_each(?))"
            " AND kind IN ('sli_sample', 'run_finished') ORDER BY run_id, seq",
            (json.dumps(batch),),
        ).fetchall()
        for run_id, events in _grouped(rows, tuple).items():
            at = _turned_healthy(events)
            if at is not None:
                found[run_id] = at
    return found


def _turned_healthy(events: Iterable[Sequence[Any]]) -> float | None:
    turned: float | None = None
    ended: float | None = None
    for ts, verdict, sample_ts, phase, kind in events:
        if kind == "run_finished":
            ended = float(ts)
        elif phase != "pre-check":
            healthy = verdict == "healthy"
            turned = (turned or float(sample_ts or ts)) if healthy else None
    return turned if turned is not None else ended


# Incidents that are certainly resolved: by a human, or by the record (its stored
# resolved time, see `incidents.store_record_resolved`) when no time it would be checked
# against can be after it: a human's, a member run's start, the end of a member run that
# recovered or one of its SLI samples (when it turned healthy). Those left are read
# whole and their status tells.
_LISTED = """
SELECT incident_id FROM incidents AS i WHERE i.opened_at >= ? AND (? = 0 OR
i.resolved IS NULL AND (i.record_resolved IS NULL
    OR i.record_resolved < max(coalesce(i.impact_started, -1e308),
        coalesce(i.response_started, -1e308), coalesce(i.mitigated, -1e308))
    OR EXISTS (SELECT 1 FROM runs AS r WHERE r.run_id IN (
            SELECT t.run_id FROM incident_alerts AS a JOIN triggers AS t
            USING (fingerprint, starts_at) WHERE a.incident_id = i.incident_id
            AND t.decision IN ('run', 'proposed') AND t.run_id IS NOT NULL
            UNION SELECT n.run_id FROM incident_runs AS n WHERE n.incident_id = i.incident_id)
        AND (r.started_at > i.record_resolved OR (r.status = 'recovered'
            AND (coalesce(r.finished_at, 1e308) > i.record_resolved
                OR EXISTS (SELECT 1 FROM events AS e WHERE e.run_id = r.run_id
                    AND e.kind = 'sli_sample'
                    AND json_extract(e.data, '$.sample_ts') > i.record_resolved)))))))
ORDER BY i.opened_at DESC, i.incident_id DESC
"""


def listing(
    conn: sqlite3.Connection, *, since: float | None, limit: int, open_only: bool = False
) -> list[IncidentRecord]:
    """Incidents opened since `since` (all without it), newest first; with `open_only`,
    those not resolved (by a human, or by the record). Read in batches."""
    rows = conn.execute(
        _LISTED,
        (since if since is not None else float("-inf"), int(open_only)),
    ).fetchall()
    ids = [str(row[0]) for row in rows]
    if not open_only:
        return read_many(conn, ids[:limit])
    found: list[IncidentRecord] = []
    for first in range(0, len(ids), _BATCH):
        batch = read_many(conn, ids[first : first + _BATCH])
        found.extend(record for record in batch if record.status != RESOLVED_STATUS)
        if len(found) >= limit:
            break
    return found[:limit]
