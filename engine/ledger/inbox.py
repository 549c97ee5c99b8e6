"""The webhook inbox: every notification `runbook serve` accepted, and every decision on
each of its alerts, in the ledger's own transactions.

A notification and its alerts are committed in one transaction before the sender gets
its 2xx (`accept`), so an accepted alert cannot be lost: a server that dies before it
decided on an alert finds it still pending when it starts again. Each decision on an
alert (`triggers` rows) says what happened and why, also when nothing ran: no playbook
matched, an input did not bind, a duplicate, a resolved alert.

One run per (fingerprint, startsAt, playbook content hash): a partial unique index
refuses a second decision to act on the same firing of the same alert with the same
playbook, across resends, Alertmanager's HA peers and our restarts.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from msgspec import Struct, structs

from engine.ledger.model import from_json, new_id, to_json

# v3: the webhook inbox (applied by the ledger's migrations).
SCHEMA = """
CREATE TABLE notifications (
    notification_id TEXT PRIMARY KEY,
    received_at REAL NOT NULL, source TEXT NOT NULL, receiver TEXT NOT NULL,
    group_key TEXT NOT NULL, status TEXT NOT NULL,
    -- the body as it arrived (JSON)
    payload TEXT NOT NULL
);
CREATE INDEX notifications_by_time ON notifications (received_at);
CREATE TABLE inbox (
    notification_id TEXT NOT NULL REFERENCES notifications (notification_id),
    position INTEGER NOT NULL,
    fingerprint TEXT NOT NULL, starts_at TEXT NOT NULL, status TEXT NOT NULL,
    alertname TEXT NOT NULL,
    -- NULL until the server decided what to do with the alert
    handled_at REAL,
    PRIMARY KEY (notification_id, position)
) WITHOUT ROWID;
CREATE INDEX inbox_pending ON inbox (notification_id, position) WHERE handled_at IS NULL;
CREATE INDEX inbox_by_alert ON inbox (fingerprint, starts_at, status);
CREATE TABLE triggers (
    trigger_id TEXT PRIMARY KEY,
    notification_id TEXT NOT NULL REFERENCES notifications (notification_id),
    position INTEGER NOT NULL,
    fingerprint TEXT NOT NULL, starts_at TEXT NOT NULL, alertname TEXT NOT NULL,
    playbook TEXT, version TEXT, content_hash TEXT, file TEXT,
    decided_at REAL NOT NULL,
    -- run (queued, started or cancelled), proposed, suggested, or why nothing ran
    decision TEXT NOT NULL, reason TEXT NOT NULL,
    -- for a run: queued → started | cancelled; the run's id from the moment it is queued
    state TEXT, run_id TEXT,
    inputs TEXT NOT NULL DEFAULT '{}',
    -- the run's lock keys, rendered when it was decided (what the guards count by)
    targets TEXT NOT NULL DEFAULT '[]',
    -- a proposal (state open → approved | resolved) may be approved until then
    expires_at REAL
);
CREATE INDEX triggers_by_time ON triggers (decided_at);
CREATE INDEX triggers_queued ON triggers (state) WHERE state = 'queued';
CREATE INDEX triggers_by_alert ON triggers (fingerprint, starts_at);
CREATE UNIQUE INDEX triggers_once ON triggers (fingerprint, starts_at, content_hash)
    WHERE decision IN ('run', 'proposed', 'suggested');
CREATE INDEX triggers_runs ON triggers (decided_at) WHERE decision = 'run';
CREATE TABLE escalations (
    escalation_id TEXT PRIMARY KEY,
    created_at REAL NOT NULL, reason TEXT NOT NULL,
    trigger_id TEXT, run_id TEXT, playbook TEXT,
    -- the summary sent (JSON), where to (JSON), and how it went
    body TEXT NOT NULL, destination TEXT NOT NULL,
    status TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '', sent_at REAL
);
CREATE INDEX escalations_pending ON escalations (status) WHERE status = 'pending';
CREATE INDEX escalations_by_trigger ON escalations (trigger_id)
"""

# What a decision can be. The first three act (at most one per firing and playbook
# content); the others record why nothing ran.
RUN = "run"
PROPOSED = "proposed"
SUGGESTED = "suggested"
ACTING = frozenset({RUN, PROPOSED, SUGGESTED})
DUPLICATE = "duplicate"
RESOLVED = "resolved"
NO_MATCH = "no_match"
BAD_INPUT = "bad_input"
REFUSED = "refused"
# The guards (engine/hooks/guards.py): a run they held back.
BUSY = "busy"
COOLDOWN = "cooldown"
BUDGET_EXHAUSTED = "budget_exhausted"
FLAPPING = "flapping"
GUARDED = frozenset({BUSY, COOLDOWN, BUDGET_EXHAUSTED, FLAPPING})
DECISIONS = frozenset({*ACTING, DUPLICATE, RESOLVED, NO_MATCH, BAD_INPUT, REFUSED, *GUARDED})
QUEUED = "queued"
STARTED = "started"
CANCELLED = "cancelled"
NOT_STARTED = "not_started"
OPEN = "open"  # a proposal a human may approve
APPROVED = "approved"


_SELECT_TRIGGERS = "SELECT * FROM triggers"
_NEWEST_FIRST = "ORDER BY decided_at DESC, trigger_id DESC"


class InboxAlert(Struct, frozen=True):
    """One alert of an accepted notification, as the inbox keeps it; what else of it an
    incident keeps (`engine/ledger/incidents.py`) when it is decided on."""

    fingerprint: str
    starts_at: str
    status: str
    alertname: str
    labels: Mapping[str, str] = {}
    ends_at: str = ""
    generator_url: str = ""
    summary: str = ""  # the annotation `summary`: a new incident's title


class Received(Struct, frozen=True):
    """A notification as it arrived: who sent it, and its alerts in order."""

    source: str
    receiver: str
    group_key: str
    status: str
    payload: bytes
    alerts: Sequence[InboxAlert]


class Pending(Struct, frozen=True):
    """An accepted alert the server has not decided on yet (its notification's body is
    read once per notification: `payload_of`)."""

    notification_id: str
    position: int
    received_at: float
    receiver: str


class Decision(Struct, frozen=True):
    """What was decided for one alert and one playbook (or none)."""

    decision: str
    reason: str
    playbook: str | None = None
    version: str | None = None
    content_hash: str | None = None
    file: str | None = None
    inputs: Mapping[str, Any] = {}
    run_id: str | None = None
    targets: tuple[str, ...] = ()
    expires_at: float | None = None  # a proposal's
    # Held back again as this firing already was (a resend): recorded, not escalated again.
    again: bool = False


# Inside the transaction that records a `run` decision: the same decision, or the one
# the guards make of it (e.g. `cooldown`), reading what was decided before.
Guard = Callable[[sqlite3.Connection, Decision], Decision]


class TriggerRow(Struct, frozen=True):
    """One decision as `runbook triggers` lists it."""

    trigger_id: str
    notification_id: str
    position: int
    fingerprint: str
    starts_at: str
    alertname: str
    playbook: str | None
    version: str | None
    content_hash: str | None
    file: str | None
    decided_at: float
    decision: str
    reason: str
    state: str | None
    run_id: str | None
    inputs: dict[str, Any]
    targets: list[str]
    expires_at: float | None

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> TriggerRow:
        values = dict(record)
        values["inputs"] = from_json(values["inputs"])
        values["targets"] = json.loads(values["targets"])
        return cls(**values)


def new_notification_id() -> str:
    """A new notification id like `n20250101T120000123-k3q9zx`."""
    return new_id("n")


def new_trigger_id() -> str:
    """A new trigger id like `t20250101T120000123-k3q9zx`."""
    return new_id("t")


def accept(conn: sqlite3.Connection, received: Received) -> str:
    """Inside a write transaction: store a notification and queue its alerts."""
    notification_id = new_notification_id()
    conn.execute(
        "INSERT INTO notifications VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            *(notification_id, time.time(), received.source, received.receiver),
            *(received.group_key, received.status, received.payload.decode()),
        ),
    )
    conn.executemany(
        "INSERT INTO inbox VALUES (?, ?, ?, ?, ?, ?, NULL)",
        [
            (notification_id, position, a.fingerprint, a.starts_at, a.status, a.alertname)
            for position, a in enumerate(received.alerts)
        ],
    )
    return notification_id


def pending(conn: sqlite3.Connection, limit: int) -> list[Pending]:
    """Accepted alerts not decided on yet, oldest first."""
    rows = conn.execute(
        "SELECT inbox.notification_id, position, received_at, receiver"
        " FROM inbox JOIN notifications USING (notification_id)"
        " WHERE handled_at IS NULL ORDER BY inbox.notification_id, position LIMIT ?",
        (limit,),
    ).fetchall()
    return [Pending(*row) for row in rows]


def pending_count(conn: sqlite3.Connection) -> int:
    """How many accepted alerts are not decided on yet (the partial index counts them)."""
    return int(conn.execute("SELECT count(*) FROM inbox WHERE handled_at IS NULL").fetchone()[0])


def decide(
    conn: sqlite3.Connection,
    alert: Pending,
    facts: InboxAlert,
    decisions: Sequence[Decision],
    guard: Guard | None = None,
) -> list[tuple[str, Decision]]:
    """Inside a write transaction: record the decisions on one alert and mark it handled.

    An acting decision that the same firing already had with the same content becomes a
    `duplicate` naming the first; a `run` is then put to `guard`, and if it passes, queued
    with its run id. Returns each trigger id with the decision as recorded."""
    recorded = [_record(conn, alert, facts, decision, guard) for decision in decisions]
    conn.execute(
        "UPDATE inbox SET handled_at = ? WHERE notification_id = ? AND position = ?",
        (time.time(), alert.notification_id, alert.position),
    )
    return recorded


def _record(
    conn: sqlite3.Connection,
    alert: Pending,
    facts: InboxAlert,
    decision: Decision,
    guard: Guard | None,
) -> tuple[str, Decision]:
    if decision.decision == RESOLVED:
        decision = _resolved(conn, facts, decision)
    elif decision.decision in ACTING and _resolved_already(conn, facts):
        decision = structs.replace(
            decision,
            decision=RESOLVED,
            reason="resolved before it was decided: this firing's resolved notification came"
            " first (a late copy); nothing runs",
            run_id=None,
        )
    if decision.decision in ACTING:
        first = _earlier(conn, facts, decision.content_hash)
        if first is None and decision.decision == RUN and guard is not None:
            decision = _held_again(conn, facts, guard(conn, decision))
        elif first is not None:
            decision = _duplicate(decision, first)
    trigger_id = new_trigger_id()
    state = {RUN: QUEUED, PROPOSED: OPEN}.get(decision.decision)
    conn.execute(
        "INSERT INTO triggers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            *(trigger_id, alert.notification_id, alert.position),
            *(facts.fingerprint, facts.starts_at, facts.alertname),
            *(decision.playbook, decision.version, decision.content_hash, decision.file),
            *(time.time(), decision.decision, decision.reason, state, decision.run_id),
            to_json(dict(decision.inputs)),
            json.dumps(list(decision.targets)),
            decision.expires_at,
        ),
    )
    return trigger_id, decision


def _resolved(conn: sqlite3.Connection, facts: InboxAlert, decision: Decision) -> Decision:
    """A resolved alert cancels the queued runs and closes the open proposals of the same
    firing (a later firing of the alert has its own startsAt: it is left alone)."""
    reason = decision.reason
    cancelled = cancel_queued(conn, facts.fingerprint, "resolved before run", facts.starts_at)
    if cancelled:
        reason += f"; cancelled the queued run of {', '.join(cancelled)}"
    closed = close_proposals(conn, facts.fingerprint, facts.starts_at)
    if closed:
        reason += f"; closed the proposal {', '.join(closed)}"
    return Decision(RESOLVED, reason)


def _resolved_already(conn: sqlite3.Connection, facts: InboxAlert) -> bool:
    """Whether a resolved notification of this very firing was accepted."""
    row = conn.execute(
        "SELECT 1 FROM inbox WHERE fingerprint = ? AND starts_at = ? AND status = 'resolved'"
        " LIMIT 1",
        (facts.fingerprint, facts.starts_at),
    ).fetchone()
    return row is not None


def _duplicate(decision: Decision, first: sqlite3.Row) -> Decision:
    what = first["decision"]
    if first["state"] and first["state"] not in (QUEUED, STARTED):
        what += f" ({first['state']})"
    run = f" (run {first['run_id']})" if first["run_id"] else ""
    return structs.replace(
        decision,
        decision=DUPLICATE,
        reason=f"already {what} as {first['trigger_id']}{run}",
        run_id=first["run_id"],
        expires_at=None,
    )


def _held_again(conn: sqlite3.Connection, facts: InboxAlert, decision: Decision) -> Decision:
    """A run the guards held back, marked `again` when this firing was held back the
    same way before (escalated once, not at every resend)."""
    if decision.decision not in GUARDED:
        return decision
    row = conn.execute(
        "SELECT trigger_id FROM triggers WHERE fingerprint = ? AND starts_at = ?"
        " AND content_hash IS ? AND decision = ? LIMIT 1",
        (facts.fingerprint, facts.starts_at, decision.content_hash, decision.decision),
    ).fetchone()
    if row is None:
        return decision
    return structs.replace(decision, reason=f"{decision.reason} (as {row[0]})", again=True)


def _earlier(
    conn: sqlite3.Connection, facts: InboxAlert, content_hash: str | None
) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute(
        "SELECT trigger_id, decision, run_id, state FROM triggers WHERE fingerprint = ?"
        " AND starts_at = ? AND content_hash IS ? AND decision IN ('run', 'proposed', 'suggested')",
        (facts.fingerprint, facts.starts_at, content_hash),
    ).fetchone()
    return row


def cancel_queued(
    conn: sqlite3.Connection, fingerprint: str, reason: str, starts_at: str
) -> list[str]:
    """Inside a write transaction: cancel the queued runs of one firing of an alert;
    their trigger ids."""
    rows = conn.execute(
        "UPDATE triggers SET state = ?, reason = ?"
        " WHERE fingerprint = ? AND starts_at = ? AND state = ? RETURNING trigger_id",
        (CANCELLED, reason, fingerprint, starts_at, QUEUED),
    ).fetchall()
    return sorted(row[0] for row in rows)


def close_proposals(conn: sqlite3.Connection, fingerprint: str, starts_at: str) -> list[str]:
    """Inside a write transaction: a firing resolved; its open proposals close."""
    rows = conn.execute(
        "UPDATE triggers SET state = 'resolved'"
        " WHERE fingerprint = ? AND starts_at = ? AND state = ? RETURNING trigger_id",
        (fingerprint, starts_at, OPEN),
    ).fetchall()
    return sorted(row[0] for row in rows)


def approve(conn: sqlite3.Connection, trigger_id: str, run_id: str, now: float) -> bool:
    """Inside a write transaction: an open, unexpired proposal becomes approved with the
    run that carries it out; False if it is not (any more), or if its firing's resolved
    notification was accepted (the proposal is closed now, as deciding it would)."""
    if _resolve_before_start(conn, trigger_id, OPEN, RESOLVED, None):
        return False
    cur = conn.execute(
        "UPDATE triggers SET state = ?, run_id = ? WHERE trigger_id = ? AND state = ?"
        " AND (expires_at IS NULL OR expires_at > ?)",
        (APPROVED, run_id, trigger_id, OPEN, now),
    )
    return cur.rowcount == 1


def get_trigger(conn: sqlite3.Connection, prefix: str) -> list[TriggerRow]:
    """The decisions whose id starts with `prefix` (at most 6)."""
    rows = conn.execute(
        "SELECT * FROM triggers WHERE trigger_id >= ? AND trigger_id < ? ORDER BY trigger_id"
        " LIMIT 6",
        (prefix, prefix + "\U0010ffff"),
    ).fetchall()
    return [TriggerRow.from_record(dict(row)) for row in rows]


def claim(conn: sqlite3.Connection, trigger_id: str) -> bool:
    """Inside a write transaction: move a queued run to `started`; False if it was
    cancelled (or claimed) meanwhile, or if its firing's resolved notification was
    accepted, decided or not (the run is cancelled now: at a restart the queued runs are
    taken up before the inbox is decided)."""
    if _resolve_before_start(conn, trigger_id, QUEUED, CANCELLED, "resolved before run"):
        return False
    cur = conn.execute(
        "UPDATE triggers SET state = ? WHERE trigger_id = ? AND state = ?",
        (STARTED, trigger_id, QUEUED),
    )
    return cur.rowcount == 1


def _resolve_before_start(
    conn: sqlite3.Connection, trigger_id: str, state: str, to: str, reason: str | None
) -> bool:
    """Move the trigger from `state` to `to` (with `reason`, if given) when a resolved
    notification of its firing was accepted; whether it was moved."""
    cur = conn.execute(
        "UPDATE triggers SET state = ?, reason = coalesce(?, reason)"
        " WHERE trigger_id = ? AND state = ? AND EXISTS (SELECT 1 FROM inbox AS i"
        " WHERE i.fingerprint = triggers.fingerprint AND i.starts_at = triggers.starts_at"
        " AND i.status = 'resolved')",
        (to, reason, trigger_id, state),
    )
    return cur.rowcount == 1


def not_started(conn: sqlite3.Connection, trigger_id: str, reason: str) -> None:
    """Inside a write transaction: a claimed run that could not start, and why."""
    conn.execute(
        "UPDATE triggers SET state = ?, reason = ? WHERE trigger_id = ?",
        (NOT_STARTED, reason, trigger_id),
    )


def requeue_unstarted(conn: sqlite3.Connection) -> int:
    """Inside a write transaction: runs claimed by a server that stopped before their run
    was recorded go back to the queue (a run records its start before its first step,
    so nothing of theirs ran); how many."""
    cur = conn.execute(
        "UPDATE triggers SET state = ? WHERE state = ?"
        " AND NOT EXISTS (SELECT 1 FROM runs WHERE runs.run_id = triggers.run_id)",
        (QUEUED, STARTED),
    )
    return cur.rowcount


def payload_of(conn: sqlite3.Connection, notification_id: str) -> str:
    """The body of an accepted notification, as it arrived."""
    row = conn.execute(
        "SELECT payload FROM notifications WHERE notification_id = ?", (notification_id,)
    ).fetchone()
    return str(row[0]) if row else ""


def received_at_of(conn: sqlite3.Connection, notification_id: str) -> float | None:
    """When an accepted notification arrived (None if there is none with this id)."""
    row = conn.execute(
        "SELECT received_at FROM notifications WHERE notification_id = ?", (notification_id,)
    ).fetchone()
    return float(row[0]) if row else None


# How a run an alert started ends when a human must hear of it.
ESCALATED_OUTCOMES = (
    "refused",
    "failed",
    "not_recovered",
    "rollback_failed",
    "aborted",
    "interrupted",
)


_UNESCALATED = (
    "SELECT t.* FROM triggers AS t LEFT JOIN runs AS r USING (run_id)"
    " WHERE t.decision = 'run' AND (t.state = 'not_started' OR r.status IN (?, ?, ?, ?, ?, ?))"
    " AND NOT EXISTS (SELECT 1 FROM escalations AS e WHERE e.trigger_id = t.trigger_id)"
    " ORDER BY t.trigger_id"
)


def unescalated(conn: sqlite3.Connection) -> list[TriggerRow]:
    """Runs alerts started that ended as a human must hear of (or could not start), with
    no escalation yet: what a server escalates after each run and when it starts (so a
    crash between a run's end and its escalation loses nothing)."""
    rows = conn.execute(_UNESCALATED, ESCALATED_OUTCOMES).fetchall()
    return [TriggerRow.from_record(dict(row)) for row in rows]


# -- retention: the bodies of notifications all of whose alerts are settled -----------

# An alert of the notification still undecided, or one of its decisions (found through
# the triggers_by_alert index) not settled. Settled: it acted on nothing (state NULL), was
# cancelled, closed or approved, a proposal that expired, or a run that ended (or could
# not start) and was escalated or needs no escalation (:escalated: ESCALATED_OUTCOMES).
_UNSETTLED = (
    "SELECT 1 FROM inbox AS i WHERE i.notification_id = :id AND (i.handled_at IS NULL"
    " OR EXISTS (SELECT 1 FROM triggers AS t LEFT JOIN runs AS r USING (run_id)"
    " WHERE t.fingerprint = i.fingerprint AND t.starts_at = i.starts_at"
    " AND t.notification_id = i.notification_id AND t.position = i.position AND NOT ("
    " t.state IS NULL OR t.state IN ('cancelled', 'resolved', 'approved')"
    " OR (t.state = 'open' AND t.expires_at IS NOT NULL AND t.expires_at <= :now)"
    " OR (t.state IN ('started', 'not_started') AND ("
    " EXISTS (SELECT 1 FROM escalations AS e WHERE e.trigger_id = t.trigger_id)"
    " OR (t.state = 'started' AND r.status IS NOT NULL AND r.status != 'running'"
    " AND r.status NOT IN (SELECT value FROM json_each(:escalated))))))))"
    " LIMIT 1"
)
PRUNED = ""  # the payload of a notification whose body was pruned

Position = tuple[float, str]  # (received_at, notification_id): where a pruning pass is


class Pruned(Struct, frozen=True):
    """One batch of a pruning pass: how many bodies were emptied, the last notification
    it looked at, whether there are more, and where the next pass may begin (before the
    first notification kept: the ones before it are all pruned; None: none was kept)."""

    count: int
    last: Position
    more: bool
    resume: Position | None


def prune_payloads(
    conn: sqlite3.Connection, after: Position, received_before: float, now: float, limit: int
) -> Pruned:
    """Inside a write transaction: of the next `limit` notifications received after
    `after` and before `received_before`, empty the body of each whose alerts are all
    settled (their inbox and trigger rows, reasons and all, stay)."""
    rows = conn.execute(
        "SELECT received_at, notification_id, payload = ? FROM notifications"
        " WHERE (received_at, notification_id) > (?, ?) AND received_at < ?"
        " ORDER BY received_at, notification_id LIMIT ?",
        (PRUNED, after[0], after[1], received_before, limit),
    ).fetchall()
    facts = {"now": now, "escalated": json.dumps(ESCALATED_OUTCOMES)}
    settled: list[str] = []
    resume: Position | None = None
    previous = after
    for received_at, notification_id, gone in rows:
        if not gone:
            if conn.execute(_UNSETTLED, {**facts, "id": notification_id}).fetchone() is None:
                settled.append(notification_id)
            elif resume is None:
                resume = previous
        previous = (received_at, notification_id)
    conn.executemany(
        "UPDATE notifications SET payload = ? WHERE notification_id = ?",
        [(PRUNED, notification_id) for notification_id in settled],
    )
    return Pruned(len(settled), previous, len(rows) == limit, resume)


def queued(conn: sqlite3.Connection) -> list[TriggerRow]:
    """Runs decided and not started yet, oldest first (after a restart: never started)."""
    rows = conn.execute(
        "SELECT * FROM triggers WHERE state = ? ORDER BY trigger_id", (QUEUED,)
    ).fetchall()
    return [TriggerRow.from_record(dict(row)) for row in rows]


def triggers(
    conn: sqlite3.Connection,
    *,
    decision: str | None = None,
    since: float | None = None,
    limit: int = 50,
) -> list[TriggerRow]:
    """Decisions, newest first, optionally of one kind or since a time."""
    filters = {"decision = ?": decision, "decided_at >= ?": since}
    used = {clause: value for clause, value in filters.items() if value is not None}
    where = f"WHERE {' AND '.join(used)}" if used else ""
    sql = f"{_SELECT_TRIGGERS} {where} {_NEWEST_FIRST} LIMIT ?"
    rows = conn.execute(sql, (*used.values(), limit)).fetchall()
    return [TriggerRow.from_record(dict(row)) for row in rows]


def trigger_of_run(conn: sqlite3.Connection, run_id: str) -> TriggerRow | None:
    """The decision that started a run, if an alert started it."""
    row = conn.execute("SELECT * FROM triggers WHERE run_id = ? AND decision = ?", (run_id, RUN))
    found = row.fetchone()
    return TriggerRow.from_record(dict(found)) if found else None


# -- what the guards read (inside the deciding transaction) ---------------------------

# Runs decided and not cancelled since a time: queued, started, or they ran.
_COUNT_RUNS = (
    "SELECT count(*) FROM triggers"
    " WHERE decision = 'run' AND state IN ('queued', 'started') AND decided_at >= ?"
)


def latest_run_on(conn: sqlite3.Connection, target: str) -> sqlite3.Row | None:
    """The newest run an alert started on `target`: its trigger, run id, state, and the
    run's status and end (`ended_at`: NULL while it is queued or runs, and for a run that
    was interrupted until a rollback of it ended: its target waits for a human)."""
    row: sqlite3.Row | None = conn.execute(
        "SELECT t.trigger_id, t.run_id, t.state, r.status,"
        " COALESCE(r.finished_at, (SELECT max(c.finished_at) FROM runs AS c"
        " WHERE c.parent_run = r.run_id)) AS ended_at"
        " FROM triggers AS t JOIN json_each(t.targets) AS j LEFT JOIN runs AS r USING (run_id)"
        " WHERE t.decision = 'run' AND t.state IN ('queued', 'started') AND j.value = ?"
        " ORDER BY t.decided_at DESC LIMIT 1",
        (target,),
    ).fetchone()
    return row


def runs_since(
    conn: sqlite3.Connection,
    since: float,
    *,
    target: str | None = None,
    playbook: str | None = None,
    fingerprint: str | None = None,
) -> int:
    """How many runs alerts started since `since`, on a target, of a playbook, for an
    alert, or all of them."""
    sql = _COUNT_RUNS
    params: list[Any] = [since]
    if target is not None:
        sql += " AND EXISTS (SELECT 1 FROM json_each(targets) WHERE value = ?)"
        params.append(target)
    if playbook is not None:
        sql += " AND playbook = ?"
        params.append(playbook)
    if fingerprint is not None:
        sql += " AND fingerprint = ?"
        params.append(fingerprint)
    return int(conn.execute(sql, params).fetchone()[0])


# -- escalations ------------------------------------------------------------------------

PENDING = "pending"
SENT = "sent"
FAILED = "failed"
NOT_NEEDED = "not_needed"


class EscalationRow(Struct, frozen=True):
    """One escalation: why, about what, the summary sent, where to, how it went."""

    escalation_id: str
    created_at: float
    reason: str
    trigger_id: str | None
    run_id: str | None
    playbook: str | None
    body: dict[str, Any]
    destination: dict[str, Any]
    status: str
    detail: str
    sent_at: float | None

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> EscalationRow:
        values = dict(record)
        values["body"] = from_json(values["body"])
        values["destination"] = from_json(values["destination"])
        return cls(**values)


def add_escalation(
    conn: sqlite3.Connection,
    reason: str,
    body: Mapping[str, Any],
    destination: Mapping[str, Any],
    about: tuple[str | None, str | None, str | None],
    not_needed: str = "",
) -> str:
    """Inside a write transaction: an escalation to send (`about`: trigger, run, playbook),
    or, with `not_needed` (why), one recorded as not to be sent."""
    escalation_id = new_id("e")
    status = NOT_NEEDED if not_needed else PENDING
    conn.execute(
        "INSERT INTO escalations VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
        (
            *(escalation_id, time.time(), reason, *about),
            *(to_json(body), to_json(destination), status, not_needed),
        ),
    )
    return escalation_id


def escalation_done(conn: sqlite3.Connection, escalation_id: str, ok: bool, detail: str) -> None:
    """Inside a write transaction: how sending an escalation went."""
    conn.execute(
        "UPDATE escalations SET status = ?, detail = ?, sent_at = ? WHERE escalation_id = ?",
        (SENT if ok else FAILED, detail, time.time(), escalation_id),
    )


def escalations(
    conn: sqlite3.Connection, *, status: str | None = None, limit: int = 50
) -> list[EscalationRow]:
    """Escalations, newest first (oldest first for `pending`: the order to send them)."""
    if status is None:
        rows = conn.execute(
            "SELECT * FROM escalations ORDER BY created_at DESC LIMIT ?", (limit,)
        ).fetchall()
    else:
        rows = conn.execute(
            "SELECT * FROM escalations WHERE status = ? ORDER BY created_at LIMIT ?",
            (status, limit),
        ).fetchall()
    return [EscalationRow.from_record(dict(row)) for row in rows]
