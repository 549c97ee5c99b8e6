"""The SQLite ledger: runs and their events, and drills, durable before each call returns.

Every write is one `BEGIN IMMEDIATE … COMMIT` transaction in WAL mode with
`synchronous=FULL`, so a committed event survives a crash of the process or the
machine, and several engines on one ledger queue for the write lock (up to
`busy_timeout`) instead of failing or corrupting it.
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from engine.core.errors import LedgerError, UsageError
from engine.core.events import Interrupted
from engine.core.findings import Location
from engine.ledger import demotion, evidence, inbox, incident_record, incidents, locks
from engine.ledger.demotion import DemotionRule
from engine.ledger.evidence import (
    Content,
    EscalationOfRun,
    MaturityChange,
    UndoRow,
)
from engine.ledger.inbox import (
    Decision,
    EscalationRow,
    Guard,
    InboxAlert,
    Pending,
    Position,
    Received,
    TriggerRow,
)
from engine.ledger.incident_record import IncidentRecord
from engine.ledger.locks import Grant, Lease, Owner
from engine.ledger.model import (
    INTERRUPTED,
    LEDGER_FILE,
    OUTCOMES,
    RUNNING,
    DrillEnd,
    DrillRow,
    EventRow,
    RunInfo,
    RunRow,
    default_home,
    host_name,
    no_such_drill,
    no_such_run,
    pick_run_id,
    process_alive,
    process_start_time,
    to_json,
)
from engine.ledger.private import open_private_ledger

SCHEMA_VERSION = 5
BUSY_TIMEOUT_MS = 10_000
# Checkpoint the WAL into the database every 64 pages (SQLite's default: 1000). The WAL
# then starts over and commits overwrite blocks it already has instead of growing it,
# and an fsync that need not journal a new file size costs about half. Durability is the
# same: a checkpoint only copies committed pages, and fsyncs them before reusing the WAL.
WAL_AUTOCHECKPOINT_PAGES = 64

_SCHEMA = """
CREATE TABLE runs (
    run_id TEXT PRIMARY KEY,
    playbook TEXT NOT NULL, version TEXT NOT NULL, content_hash TEXT NOT NULL,
    file TEXT NOT NULL, mode TEXT NOT NULL, inputs TEXT NOT NULL, operator TEXT NOT NULL,
    host TEXT NOT NULL, engine_version TEXT NOT NULL, started_at REAL NOT NULL,
    parent_run TEXT REFERENCES runs (run_id),
    status TEXT NOT NULL, finished_at REAL, summary TEXT,
    -- the engine process that owns a `running` run (its start time tells a reused pid apart)
    owner_host TEXT NOT NULL, owner_pid INTEGER NOT NULL, owner_start INTEGER
);
CREATE INDEX runs_by_start ON runs (started_at);
CREATE INDEX runs_by_content ON runs (playbook, content_hash);
CREATE INDEX runs_running ON runs (status) WHERE status = 'running';
CREATE TABLE events (
    run_id TEXT NOT NULL REFERENCES runs (run_id), seq INTEGER NOT NULL,
    ts REAL NOT NULL, kind TEXT NOT NULL, step_id TEXT, data TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
"""

# What brings a ledger of schema version N to N + 1, applied in order when an engine
# opens an older ledger (its runs and events stay as they are), and to a new ledger
# after `_SCHEMA` (version 1).
_MIGRATIONS = {
    # v2: drills. A drill is also a run row (mode `drill`, id `d…`): the runs it is made
    # of name it as their `parent_run`, which must be a run; this table holds what only
    # a drill has, in columns a query can filter and sort on.
    1: """
CREATE TABLE drills (
    drill_id TEXT PRIMARY KEY REFERENCES runs (run_id),
    playbook TEXT NOT NULL, version TEXT NOT NULL, content_hash TEXT NOT NULL,
    started_at REAL NOT NULL, finished_at REAL,
    -- NULL until the drill ended (its run row says `running` or `interrupted`)
    verdict TEXT, detected_after REAL, recovered_after REAL,
    inject_run TEXT REFERENCES runs (run_id), remediate_run TEXT REFERENCES runs (run_id),
    revert_run TEXT REFERENCES runs (run_id),
    -- the report as `runbook drill --output json` printed it
    report TEXT
);
CREATE INDEX drills_by_start ON drills (started_at);
CREATE INDEX drills_by_playbook ON drills (playbook, started_at)
""",
    # v3: the webhook inbox of `runbook serve` (engine/ledger/inbox.py).
    2: inbox.SCHEMA,
    # v4: maturity on evidence (engine/ledger/evidence.py): each run's evidence hash and
    # level (older runs: the level from their run_started event, no evidence hash), and
    # the sign-offs of `runbook promote` and `runbook demote`.
    3: evidence.SCHEMA,
    # v5: incidents (engine/ledger/incidents.py): the alerts that opened or joined each,
    # the runs attached by hand, human notes, and the times a human set.
    4: incidents.SCHEMA,
}

_INSERT_RUN = """
INSERT INTO runs (run_id, playbook, version, content_hash, file, mode, inputs, operator, host,
    engine_version, started_at, parent_run, evidence_hash, maturity, status, owner_host,
    owner_pid, owner_start)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'running', ?, ?, ?)
"""
# Events are numbered after the run's last one, read inside the write transaction: no
# other engine can write between that read and the insert (BEGIN IMMEDIATE holds the
# lock), and the primary key would refuse a duplicate if one did.
_LAST_SEQ = "SELECT seq FROM events WHERE run_id = ? ORDER BY seq DESC LIMIT 1"
# An event's `ts` is when it happened, as the bus stamped it (rows written by engines
# before it was passed on hold their commit time).
_INSERT_EVENT = """
INSERT INTO events (run_id, seq, ts, kind, step_id, data) VALUES (?, ?, ?, ?, ?, ?)
"""
_INSERT_DRILL = """
INSERT INTO drills (drill_id, playbook, version, content_hash, started_at) VALUES (?, ?, ?, ?, ?)
"""
_FINISH_DRILL = """
UPDATE drills SET finished_at = ?, verdict = ?, detected_after = ?, recovered_after = ?,
    inject_run = ?, remediate_run = ?, revert_run = ?, report = ?
WHERE drill_id = ?
"""
_SELECT_DRILLS = (
    "SELECT drills.*, runs.status, runs.file FROM drills JOIN runs ON runs.run_id = drill_id"
)
_SELECT_RUNS = "SELECT * FROM runs"
_NOT_A_DRILL = "run_id NOT IN (SELECT drill_id FROM drills)"
_NEWEST_FIRST = "ORDER BY started_at DESC, run_id DESC"
# What SQLite says of a damaged file (SQLITE_CORRUPT, SQLITE_NOTADB).
_LOCKED = re.compile(r"database is locked|database table is locked")
_DAMAGED = re.compile(r"malformed|not a database|corrupt", re.IGNORECASE)
EventSpec = tuple[str, str | None, Mapping[str, Any]]
_T = TypeVar("_T")


class _Blocked(Exception):
    """Raised inside a lock transaction to roll it back; carries the refused grant."""

    def __init__(self, grant: Grant) -> None:
        super().__init__("blocked")
        self.grant = grant


class Ledger:
    """Runs and events in one SQLite file; use `Ledger.open`, close when done."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn = conn
        self._lock = threading.RLock()
        self.path = path
        # The last committed sequence number of each run this engine wrote: a commit then
        # numbers its events without reading the run's last one first.
        self._last_seq: dict[str, int] = {}
        # When a level-3 content's escalations demote it (the maturity policy's `demote:`).
        self.demotion = DemotionRule()

    @classmethod
    def open(cls, path: Path | None = None) -> Ledger:
        """Open (creating if needed) the ledger and mark runs whose engine died."""
        path = Path(path) if path is not None else default_home() / LEDGER_FILE
        ledger = cls(_connect(path), path)
        try:
            _prepare(ledger._conn, path)
            ledger.mark_interrupted()
        except BaseException:
            ledger.close()
            raise
        return ledger

    # -- writing -----------------------------------------------------------------

    def start_run(self, info: RunInfo) -> None:
        """Record a new run as `running`, owned by this process; refused (VersionReused)
        when its version was recorded with another content."""
        with self._write(f"start run {info.run_id}") as conn:
            _refuse_reused_version(conn, info)
            conn.execute(_INSERT_RUN, _run_values(info))

    def start_drill(self, info: RunInfo) -> None:
        """Record a new drill (`info.run_id` from `new_drill_id`) as `running`: its run
        row, which the drill's runs name as their parent, and its drill row."""
        drill = (info.run_id, info.playbook, info.version, info.content_hash, info.started_at)
        with self._write(f"start drill {info.run_id}") as conn:
            _refuse_reused_version(conn, info)
            conn.execute(_INSERT_RUN, _run_values(info))
            conn.execute(_INSERT_DRILL, drill)

    def finish_drill(self, drill_id: str, outcome: str, end: DrillEnd) -> None:
        """Close a drill: its run row with `outcome`, its drill row with how it went."""
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r} (one of {sorted(OUTCOMES)})")
        now = time.time()
        values = (
            *(now, end.verdict, end.detected_after, end.recovered_after),
            *(end.inject_run, end.remediate_run, end.revert_run, to_json(end.report), drill_id),
        )
        summary = {"verdict": end.verdict}
        with self._write(f"finish drill {drill_id}") as conn:
            cur = conn.execute(
                "UPDATE runs SET status = ?, finished_at = ?, summary = ? WHERE run_id = ?",
                (outcome, now, to_json(summary), drill_id),
            )
            if cur.rowcount != 1 or conn.execute(_FINISH_DRILL, values).rowcount != 1:
                raise no_such_drill(drill_id)

    def append(
        self, run_id: str, kind: str, data: Mapping[str, Any], step_id: str | None = None
    ) -> int:
        """Record one event durably (committed on return) and give its sequence number."""
        return self.append_many(run_id, [(kind, step_id, data)])[0]

    def append_many(
        self, run_id: str, events: Sequence[EventSpec], times: Sequence[float] | None = None
    ) -> list[int]:
        """Record `(kind, step_id, data)` events in one transaction: all of them or none.

        `times` are when each event happened (its `ts`, as `runbook show` tells it): a
        batch is committed later than its first events. Without them, the commit time."""
        if times is not None and len(times) != len(events):
            raise ValueError(f"{len(events)} events with {len(times)} times")
        with self._lock:  # the number is remembered by the thread that committed it
            with self._write(f"record {len(events)} events of run {run_id}"):
                numbers = self._insert_events(run_id, events, times)
            if numbers:
                self._last_seq[run_id] = numbers[-1]
        return numbers

    def finish_run(self, run_id: str, outcome: str, summary: Mapping[str, Any]) -> None:
        """Close a run with its outcome (one of `OUTCOMES`) and a summary."""
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r} (one of {sorted(OUTCOMES)})")
        with self._write(f"finish run {run_id}") as conn:
            cur = conn.execute(
                "UPDATE runs SET status = ?, finished_at = ?, summary = ? WHERE run_id = ?",
                (outcome, time.time(), to_json(summary), run_id),
            )
            if cur.rowcount != 1:
                raise no_such_run(run_id)
            demotion.after_run(conn, run_id, self.demotion)

    def mark_interrupted(self) -> list[str]:
        """Mark `running` runs whose engine process is gone as `interrupted`; return their ids.

        Known limit: only runs owned by this host are checked, since a process on
        another machine cannot be seen from here; those stay `running` until an
        engine on their own host opens the ledger. Runs of live processes
        (including this one) are left alone.
        """
        rows = self._query(
            "SELECT run_id, owner_pid, owner_start FROM runs"
            " WHERE status = 'running' AND owner_host = ?",
            (host_name(),),
        )
        dead = [r for r in rows if not process_alive(r["owner_pid"], r["owner_start"])]
        return [r["run_id"] for r in dead if self._interrupt(r["run_id"], r["owner_pid"])]

    def _interrupt(self, run_id: str, owner_pid: int) -> bool:
        with self._write(f"mark run {run_id} interrupted") as conn:
            cur = conn.execute(
                "UPDATE runs SET status = ? WHERE run_id = ? AND status = ?",
                (INTERRUPTED, run_id, RUNNING),
            )
            if cur.rowcount != 1:  # another engine got there first
                return False
            found = Interrupted(
                reason="engine process gone", owner_pid=owner_pid, found_by_pid=os.getpid()
            )
            self._insert_events(run_id, [(found.kind, None, found.fields())])
            return True

    def _insert_events(
        self, run_id: str, events: Sequence[EventSpec], times: Sequence[float] | None = None
    ) -> list[int]:
        """Inside a write transaction: number `events` after the run's last and insert
        them in one call, at `times` (else now); their sequence numbers."""
        known = self._last_seq.pop(run_id, None)
        first = (known if known is not None else self._read_last_seq(run_id)) + 1
        now = time.time()
        at = list(times) if times is not None else [now] * len(events)
        rows = [
            (run_id, first + offset, at[offset], kind, step_id, to_json(data))
            for offset, (kind, step_id, data) in enumerate(events)
        ]
        try:
            self._conn.executemany(_INSERT_EVENT, rows)
        except sqlite3.IntegrityError:
            if known is None:
                raise
            # Another engine wrote to this run since (it found this one gone): number
            # after its events. The failed statement left the transaction open.
            return self._insert_events(run_id, events, times)
        return list(range(first, first + len(rows)))

    def _read_last_seq(self, run_id: str) -> int:
        row = self._conn.execute(_LAST_SEQ, (run_id,)).fetchone()
        return int(row[0]) if row else 0

    @contextmanager
    def _write(self, what: str) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                yield self._conn
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise LedgerError(f"cannot {what}: {exc}", hint=self._hint(exc)) from exc
            except BaseException:
                self._rollback()
                raise

    def _rollback(self) -> None:
        if self._conn.in_transaction:
            self._conn.execute("ROLLBACK")

    def _hint(self, exc: sqlite3.Error) -> str:
        if isinstance(exc, sqlite3.DatabaseError) and _DAMAGED.search(str(exc)):
            return (
                f"{self.path} is damaged: keep a copy for the record, then salvage it with"
                f" `sqlite3 {self.path} .recover`, or start a new ledger (RUNBOOK_HOME)"
            )
        return f"check free space and permissions of {self.path}"

    def check_readable(self, run_id: str) -> None:
        """Read run `run_id` back as `runbook rollback` would (its row, its events, the
        runs that rolled it back): LedgerError when the ledger cannot, so that no step
        runs that could not be rolled back from the record."""
        self.get_run(run_id)
        self.events(run_id)
        self.runs(parent_run=run_id, limit=1)

    # -- target locks ------------------------------------------------------------

    def take_leases(self, run_id: str, targets: Sequence[str]) -> Grant:
        """Lease every target (sorted, distinct) for `run_id` in one transaction, or none:
        then `blocked_by` names the lease in the way. A lease whose owner is provably dead
        or that expired is taken over (`taken_over`), with the next epoch."""
        keys = locks.normalised(targets)
        pid = os.getpid()
        owner = Owner(host_name(), pid, process_start_time(pid))
        in_the_way = self._read_with(lambda conn: locks.blocker(conn, run_id, keys))
        if in_the_way is not None:  # seen without the write lock: no commit to wait for
            return Grant(blocked_by=in_the_way)
        try:
            with self._write(f"lock the targets of run {run_id}") as conn:
                locks.ensure_table(conn)
                grant = locks.take(conn, run_id, keys, owner)
                if grant.blocked_by is not None:
                    raise _Blocked(grant)  # rolls back the targets taken before it
        except _Blocked as blocked:
            return blocked.grant
        return grant

    def renew_leases(self, leases: Sequence[Lease]) -> list[Lease]:
        """Extend the leases still held under their epochs; those lost to another run."""
        with self._write("renew target locks") as conn:
            return locks.renew(conn, leases)

    def release_leases(self, leases: Sequence[Lease]) -> list[Lease]:
        """Free the leases still held under their epochs; those freed."""
        with self._write("release target locks") as conn:
            return locks.release(conn, leases)

    def leases(self) -> list[Lease]:
        """Every held lease (also of dead or expired owners, until taken over), by target."""
        return self._read_with(locks.held)

    def _read_with(self, read: Callable[[sqlite3.Connection], _T]) -> _T:
        """Read with `read(connection)` under the ledger's lock."""
        with self._lock:
            try:
                return read(self._conn)
            except sqlite3.Error as exc:
                raise LedgerError(f"cannot read the ledger: {exc}", hint=self._hint(exc)) from exc

    def _read_snapshot(self, read: Callable[[sqlite3.Connection], _T]) -> _T:
        """Read with `read(connection)` in one read transaction: what it reads in several
        queries is one state of the ledger, without taking the write lock."""
        with self._lock:
            try:
                self._conn.execute("BEGIN")
                try:
                    return read(self._conn)
                finally:
                    self._rollback()
            except sqlite3.Error as exc:
                raise LedgerError(f"cannot read the ledger: {exc}", hint=self._hint(exc)) from exc

    # -- the webhook inbox (engine/ledger/inbox.py) -----------------------------

    def accept_notifications(self, batch: Sequence[Received]) -> list[str]:
        """Commit notifications in one transaction (all or none) and queue their alerts;
        their ids. Durable on return."""
        with self._write(f"accept {len(batch)} notification(s)") as conn:
            return [inbox.accept(conn, received) for received in batch]

    def pending_alerts(self, limit: int = 100) -> list[Pending]:
        """Accepted alerts not decided on yet, oldest first."""
        return self._read_with(lambda conn: inbox.pending(conn, limit))

    def pending_count(self) -> int:
        """How many accepted alerts are not decided on yet."""
        return self._read_with(inbox.pending_count)

    def decide_alerts(
        self,
        items: Sequence[tuple[Pending, InboxAlert, Sequence[Decision], Guard | None]],
        *,
        reopen_within: float = 0.0,
    ) -> list[list[tuple[str, Decision]]]:
        """Record the decisions on alerts in one transaction, in order, and mark them
        handled: a duplicate acting decision becomes `duplicate`, a run is put to its
        guard, a resolved alert cancels its firing's queued runs and open proposals; a
        firing alert opens, joins or (within `reopen_within` seconds of the end of the
        incident the record resolved) reopens an incident, a resolved one ends its
        firing there."""
        with self._write(f"record the decisions on {len(items)} alert(s)") as conn:
            decided = []
            for pending, facts, decisions, guard in items:
                decided.append(inbox.decide(conn, pending, facts, decisions, guard))
                incidents.on_alert(conn, pending, facts, reopen_within)
            return decided

    def add_escalation(
        self,
        reason: str,
        body: Mapping[str, Any],
        destination: Mapping[str, Any],
        about: tuple[str | None, str | None, str | None],
        not_needed: str = "",
    ) -> str:
        """Record an escalation to send (or, with `not_needed`, not to); its id (`about`:
        trigger, run, playbook)."""
        with self._write("record an escalation") as conn:
            found = inbox.add_escalation(conn, reason, body, destination, about, not_needed)
            if not not_needed:
                demotion.after_escalation(conn, about[1], self.demotion)
            return found

    def escalation_done(self, escalation_id: str, ok: bool, detail: str) -> None:
        """Record how sending an escalation went."""
        with self._write(f"record escalation {escalation_id}") as conn:
            inbox.escalation_done(conn, escalation_id, ok, detail)

    def escalations(self, *, status: str | None = None, limit: int = 50) -> list[EscalationRow]:
        """Escalations, newest first (pending ones oldest first)."""
        return self._read_with(lambda conn: inbox.escalations(conn, status=status, limit=limit))

    def approve_proposal(self, trigger_id: str, run_id: str) -> bool:
        """Mark an open, unexpired proposal approved, carried out by `run_id`."""
        with self._write(f"approve proposal {trigger_id}") as conn:
            return inbox.approve(conn, trigger_id, run_id, time.time())

    def get_trigger(self, trigger_id: str) -> TriggerRow:
        """One decision by its id or a unique prefix of it."""
        rows = self._read_with(lambda conn: inbox.get_trigger(conn, trigger_id))
        exact = [row for row in rows if row.trigger_id == trigger_id]
        if exact or len(rows) == 1:
            return (exact or rows)[0]
        if not rows or not trigger_id:
            raise LedgerError(
                f"no decision on an alert with id {trigger_id!r}",
                hint="`runbook proposals` and `runbook triggers` list them",
            )
        shown = ", ".join(row.trigger_id for row in rows[:5])
        raise LedgerError(f"id {trigger_id!r} is ambiguous: {shown}", hint="give more of the id")

    def claim_trigger(self, trigger_id: str) -> bool:
        """Mark a queued run started; False if it was cancelled meanwhile or its alert resolved."""
        with self._write(f"start the run of trigger {trigger_id}") as conn:
            return inbox.claim(conn, trigger_id)

    def trigger_not_started(self, trigger_id: str, reason: str) -> None:
        """Record why a claimed run could not start."""
        with self._write(f"record why trigger {trigger_id} did not start") as conn:
            inbox.not_started(conn, trigger_id, reason)

    def requeue_unstarted_triggers(self) -> int:
        """Put back in the queue the runs a stopped server claimed and never started."""
        with self._write("requeue runs that never started") as conn:
            return inbox.requeue_unstarted(conn)

    def prune_notification_payloads(
        self,
        received_before: float,
        start: Position = (0.0, ""),
        batch: int = 50,
        stopping: Callable[[], bool] = lambda: False,
    ) -> tuple[int, Position]:
        """Empty the bodies of notifications received before `received_before` (and
        after `start`) whose alerts are all settled, `batch` notifications per
        transaction (a webhook's commit waits for one batch at most), until done or
        `stopping()` (checked between batches). How many were emptied, and where the
        next pass may start (all before it are pruned)."""
        pruned = 0
        resume: Position | None = None
        after, more = start, True
        while more and not stopping():
            with self._write("prune notification payloads") as conn:
                done = inbox.prune_payloads(conn, after, received_before, time.time(), batch)
            pruned += done.count
            resume = resume or done.resume
            after, more = done.last, done.more
        return pruned, resume or after

    def notification_payload(self, notification_id: str) -> str:
        """The body of an accepted notification ("" if there is none with this id)."""
        return self._read_with(lambda conn: inbox.payload_of(conn, notification_id))

    def notification_received_at(self, notification_id: str) -> float | None:
        """When an accepted notification arrived (None if there is none with this id)."""
        return self._read_with(lambda conn: inbox.received_at_of(conn, notification_id))

    def unescalated_triggers(self) -> list[TriggerRow]:
        """Runs alerts started that ended badly or could not start, not escalated yet."""
        return self._read_with(inbox.unescalated)

    def queued_triggers(self) -> list[TriggerRow]:
        """Runs decided and not started, oldest first."""
        return self._read_with(inbox.queued)

    def triggers(
        self, *, decision: str | None = None, since: float | None = None, limit: int = 50
    ) -> list[TriggerRow]:
        """Decisions on alerts, newest first."""
        return self._read_with(
            lambda conn: inbox.triggers(conn, decision=decision, since=since, limit=limit)
        )

    def trigger_of_run(self, run_id: str) -> TriggerRow | None:
        """The decision on an alert that started run `run_id`, if any."""
        return self._read_with(lambda conn: inbox.trigger_of_run(conn, run_id))

    # -- incidents (engine/ledger/incidents.py) --------------------------------------

    def open_incident(
        self, title: str, opened_by: str, *, severity: str = "", playbook: str = ""
    ) -> str:
        """Open an incident by hand; its id (`i…`)."""
        with self._write("open an incident") as conn:
            return incidents.open_incident(
                conn, title, opened_by, severity=severity, playbook=playbook
            )

    def note_incident(self, incident_id: str, author: str, text: str) -> tuple[str, str]:
        """Add a human's note to an incident (id or unique prefix); (incident id, note id)."""
        with self._write(f"add a note to incident {incident_id}") as conn:
            found = incident_record.resolve_id(conn, incident_id)
            return found, incidents.add_note(conn, found, author, text)

    def set_incident_times(
        self, incident_id: str, changes: Mapping[str, float], clear: Sequence[str] = ()
    ) -> IncidentRecord:
        """Set lifecycle times as a human (`incident_times.TIMES` to epoch seconds), after
        taking back the human times named in `clear`, checked in the same transaction
        against every time that stands: OrderError, nothing written, when one breaks the
        order. The incident as it now is."""
        with self._write(f"set the times of incident {incident_id}") as conn:
            found = incident_record.resolve_id(conn, incident_id)
            return incidents.set_times(conn, found, changes, clear)

    def resolve_incident(self, incident_id: str, at: float) -> tuple[IncidentRecord, bool]:
        """Resolve an incident as a human at `at` (epoch seconds), unless it already has
        a resolved time (a human's or the record's), which stays; the incident as it now
        is, and whether it was resolved now. OrderError as for `set_incident_times`."""
        with self._write(f"resolve incident {incident_id}") as conn:
            found = incident_record.resolve_id(conn, incident_id)
            return incidents.resolve(conn, found, at)

    def attach_run(self, incident_id: str, run_id: str, by: str) -> tuple[str, str, bool]:
        """Make a run (id or unique prefix) a member of an incident; (incident id, run
        id, whether it was new). UsageError when it belongs to another incident."""
        run = self._resolve(run_id)
        with self._write(f"attach run {run} to incident {incident_id}") as conn:
            found = incident_record.resolve_id(conn, incident_id)
            return found, run, incidents.attach(conn, found, run, by)

    def incident(self, incident_id: str) -> IncidentRecord:
        """An incident (id or unique prefix) whole, for `runbook show`, postmortems and
        regression cases: its title, severity, playbook, who opened it and when; its
        lifecycle times (`times`: impact_started, detected, response_started, mitigated,
        resolved → `TimeOf(at, source, ignored)`, source `record` or `human`, read as they
        stand now: a human time wins, a record time that breaks the order is left out and
        says why) and `status` (open, mitigated, resolved); its alerts (`IncidentAlert`:
        notification id, labels, startsAt/endsAt, fingerprint, generatorURL, status); its
        member run ids in start order (`run_ids`; `attached`: those attached by hand);
        its proposals (decision id, playbook, state, approved run); its notes (author,
        at, text). `took(name)` gives TTD, TTM, TTR. Read in one snapshot."""
        return self._read_snapshot(
            lambda conn: incident_record.read(conn, incident_record.resolve_id(conn, incident_id))
        )

    def incident_of_run(self, run_id: str) -> str | None:
        """The id of the incident a run (id or unique prefix) belongs to: started by one
        of its alerts (or an approved proposal of one), or attached to it; else that of
        the run it is part of (its drill, the run it rolled back); None if none."""
        run = self._resolve(run_id)
        return self._read_with(lambda conn: incidents.owner_of_run(conn, run))

    def incidents(
        self, *, since: float | None = None, limit: int = 50, open_only: bool = False
    ) -> list[IncidentRecord]:
        """Incidents opened since `since` (epoch seconds; all without it), newest first;
        with `open_only`, those not resolved."""
        return self._read_snapshot(
            lambda conn: incident_record.listing(
                conn, since=since, limit=limit, open_only=open_only
            )
        )

    # -- reading -----------------------------------------------------------------

    def runs(
        self,
        *,
        playbook: str | None = None,
        outcome: str | None = None,
        mode: str | None = None,
        since: float | None = None,
        parent_run: str | None = None,
        with_drills: bool = True,
        limit: int = 50,
    ) -> list[RunRow]:
        """Runs, newest first, optionally of one playbook, with one status or mode, since a
        time, or made by `parent_run` (a drill's runs, a rollback of a run); without the
        drills' own run rows unless `with_drills`."""
        filters = {
            "playbook = ?": playbook,
            "status = ?": outcome,
            "mode = ?": mode,
            "started_at >= ?": since,
            "parent_run = ?": parent_run,
        }
        used = {clause: value for clause, value in filters.items() if value is not None}
        clauses = [*used] + ([] if with_drills else [_NOT_A_DRILL])
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        sql = f"{_SELECT_RUNS} {where} {_NEWEST_FIRST} LIMIT ?"
        return [RunRow.from_record(dict(r)) for r in self._query(sql, (*used.values(), limit))]

    def drills(
        self, *, playbook: str | None = None, file: str | None = None, limit: int = 50
    ) -> list[DrillRow]:
        """Drills, newest first, optionally of one playbook: by its name, or its file (as
        recorded: the resolved path), or either when both are given."""
        filters = {"drills.playbook = ?": playbook, "runs.file = ?": file}
        used = {clause: value for clause, value in filters.items() if value is not None}
        where = f"WHERE {' OR '.join(used)}" if used else ""
        order = "ORDER BY drills.started_at DESC, drill_id DESC"
        rows = self._query(f"{_SELECT_DRILLS} {where} {order} LIMIT ?", (*used.values(), limit))
        return [DrillRow.from_record(dict(r)) for r in rows]

    def get_drill(self, drill_id: str) -> DrillRow:
        """One drill by its id or a unique prefix of it."""
        rows = self._query(
            "SELECT drill_id FROM drills WHERE drill_id >= ? AND drill_id < ?"
            " ORDER BY drill_id LIMIT 6",
            (drill_id, drill_id + "\U0010ffff"),
        )
        try:
            found = pick_run_id(drill_id, [r["drill_id"] for r in rows])
        except LedgerError as exc:
            raise no_such_drill(drill_id) if not rows else exc from None
        record = self._query(f"{_SELECT_DRILLS} WHERE drill_id = ?", (found,))
        return DrillRow.from_record(dict(record[0]))

    def get_run(self, run_id: str) -> RunRow:
        """One run by its id or a unique prefix of it."""
        return RunRow.from_record(self._run_record(run_id))

    def events(self, run_id: str) -> list[EventRow]:
        """A run's events (id or unique prefix) in the order they were recorded."""
        rows = self._query(
            "SELECT seq, ts, kind, step_id, data FROM events WHERE run_id = ? ORDER BY seq",
            (self._resolve(run_id),),
        )
        return [EventRow.from_record(dict(r)) for r in rows]

    def run_info(self, run_id: str) -> RunInfo:
        """What `start_run` stored for a run (id or unique prefix), inputs and file included."""
        return RunInfo.from_record(self._run_record(run_id))

    def evidence(self, playbook: str, content_hash: str) -> list[RunRow]:
        """Every run of this exact content that is no longer `running`, newest first."""
        sql = f"{_SELECT_RUNS} WHERE playbook = ? AND content_hash = ? AND status != ?"
        rows = self._query(f"{sql} {_NEWEST_FIRST}", (playbook, content_hash, RUNNING))
        return [RunRow.from_record(dict(r)) for r in rows]

    # -- maturity ----------------------------------------------------------------

    def evidence_runs(self, content: Content) -> list[RunRow]:
        """Every ended run of this content, oldest first."""
        return self._read_with(lambda conn: evidence.runs(conn, content))

    def evidence_undos(self, content: Content) -> list[UndoRow]:
        """Every undo that succeeded in a run of this content, oldest first."""
        return self._read_with(lambda conn: evidence.undos(conn, content))

    def evidence_escalations(self, content: Content) -> list[EscalationOfRun]:
        """Escalations about runs of this content, oldest first."""
        return self._read_with(lambda conn: evidence.escalations(conn, content))

    def drills_of(self, content: Content) -> list[DrillRow]:
        """The ended drills of this content, oldest first."""
        ids = self._read_with(lambda conn: evidence.drill_ids(conn, content))
        return [self.get_drill(drill_id) for drill_id in ids]

    def add_maturity_change(self, change: dict[str, Any]) -> str:
        """Record a sign-off (`evidence.add_change`); its id."""
        with self._write(f"record the sign-off of {change.get('playbook')}") as conn:
            return evidence.add_change(conn, change)

    def demotion_of(
        self, playbook: str, evidence_hash: str, declared: int
    ) -> MaturityChange | None:
        """The recorded demotion that lowers this content below `declared`, or None."""
        changes = self.maturity_changes([playbook])
        return demotion.lowering([c for c in changes if c.evidence_hash == evidence_hash], declared)

    def maturity_changes(self, playbooks: Sequence[str]) -> list[MaturityChange]:
        """The sign-offs of these playbooks, oldest first."""
        return self._read_with(lambda conn: evidence.changes(conn, playbooks))

    def _run_record(self, run_id: str) -> dict[str, Any]:
        rows = self._query(f"{_SELECT_RUNS} WHERE run_id = ?", (self._resolve(run_id),))
        return dict(rows[0])

    def _resolve(self, prefix: str) -> str:
        # A range scan on the primary key: every id that starts with `prefix`.
        rows = self._query(
            "SELECT run_id FROM runs WHERE run_id >= ? AND run_id < ? ORDER BY run_id LIMIT 6",
            (prefix, prefix + "\U0010ffff"),
        )
        return pick_run_id(prefix, [r["run_id"] for r in rows])

    def _query(self, sql: str, params: Sequence[Any]) -> list[sqlite3.Row]:
        with self._lock:
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise LedgerError(f"cannot read the ledger: {exc}", hint=self._hint(exc)) from exc

    # -- lifetime ----------------------------------------------------------------

    def close(self) -> None:
        """Close the database connection (safe to call twice)."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _run_values(info: RunInfo) -> tuple[Any, ...]:
    """The values of `_INSERT_RUN` for a new run owned by this process."""
    pid = os.getpid()
    owner = (host_name(), pid, process_start_time(pid))
    return (
        *(info.run_id, info.playbook, info.version, info.content_hash, info.file),
        *(info.mode, to_json(info.inputs), info.operator, info.host),
        *(info.engine_version, info.started_at, info.parent_run),
        *(info.evidence_hash, info.maturity, *owner),
    )


def _refuse_reused_version(conn: sqlite3.Connection, info: RunInfo) -> None:
    """Inside the write transaction that starts a run: refuse it when its playbook's
    version was recorded with another content (two engines cannot both slip past)."""
    if info.evidence_hash is None:
        return
    found = evidence.other_content(conn, info.playbook, info.version, info.evidence_hash)
    if found is not None:
        raise VersionReused(info.playbook, info.version, found.run_id)


def recorded_with_other_content(
    path: Path, playbook: str, version: str, evidence_hash: str
) -> str | None:
    """The run that recorded `version` of `playbook` with another content, read through a
    read-only connection: none of `Ledger.open`'s work (checks, migration, recovery), so
    a run can be refused early at little cost. None when the ledger cannot be read so
    (missing, older schema, busy): the check inside `start_run`'s transaction decides."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
    except sqlite3.Error:
        return None
    conn.row_factory = sqlite3.Row
    try:
        found = evidence.other_content(conn, playbook, version, evidence_hash)
    except sqlite3.Error:
        return None
    finally:
        conn.close()
    return found.run_id if found else None


class VersionReused(UsageError):
    """A playbook's version was recorded with other content: nothing runs (exit 2)."""

    def __init__(
        self, playbook: str, version: str, run_id: str, location: Location | None = None
    ) -> None:
        super().__init__(
            f"version {version} of {playbook} was recorded with other content (run {run_id});"
            " bump `version`",
            "an edited playbook is a new version: raise metadata.version (e.g. 1.2.0 to"
            " 1.2.1), so that its runs count as evidence of what the file now says",
            location,
        )
        self.run_id = run_id


def _connect(path: Path) -> sqlite3.Connection:
    """Create the folder (0700) and file (0600) if needed, refuse them unless they are ours
    alone (`engine.ledger.private`), and connect, without a transaction."""
    open_private_ledger(path)
    try:
        conn = sqlite3.connect(
            path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False
        )
    except (OSError, sqlite3.Error) as exc:
        raise _cannot_open(path, exc) from exc
    conn.row_factory = sqlite3.Row
    return conn


def _prepare(conn: sqlite3.Connection, path: Path) -> None:
    """WAL mode and the tables, also while other engines open a new ledger at the same
    moment: turning a new file into WAL and creating its tables take locks that SQLite
    may refuse at once (not after its busy timeout) to avoid a deadlock; each try is
    repeated within the busy timeout."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            _configure(conn, path)
            _ensure_schema(conn, path)
            return
        except LedgerError as exc:
            locked = isinstance(exc.__cause__, sqlite3.OperationalError) and _LOCKED.search(
                str(exc.__cause__)
            )
            if not locked or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _configure(conn: sqlite3.Connection, path: Path) -> None:
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES}")
        conn.execute("PRAGMA foreign_keys = ON")
    except sqlite3.OperationalError as exc:  # locked, unreadable, …: not a verdict on the file
        raise _cannot_open(path, exc) from exc
    except sqlite3.DatabaseError as exc:
        raise _not_a_ledger(path, f"not a SQLite database ({exc})") from exc


def _ensure_schema(conn: sqlite3.Connection, path: Path) -> None:
    """Create the tables in a new ledger, bring an older one to this schema; refuse a
    newer schema or a foreign database."""
    if _user_version(conn) == SCHEMA_VERSION:
        return
    try:
        conn.execute("BEGIN IMMEDIATE")  # re-checked under the lock: another engine may race
        _create_schema(conn, path)
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        raise _cannot_open(path, exc) from exc
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")


def _create_schema(conn: sqlite3.Connection, path: Path) -> None:
    version = _user_version(conn)
    if version > SCHEMA_VERSION:
        raise LedgerError(
            f"the ledger {path} has schema v{version}; this engine knows up to v{SCHEMA_VERSION}",
            hint="upgrade runbook-engine, or set RUNBOOK_HOME to use another ledger",
        )
    if version == SCHEMA_VERSION:
        return
    if version == 0:
        if conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
            raise _not_a_ledger(path, "a SQLite database of something else")
        _execute(conn, _SCHEMA)
        version = 1
    for older in range(version, SCHEMA_VERSION):
        _execute(conn, _MIGRATIONS[older])
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _execute(conn: sqlite3.Connection, script: str) -> None:
    # executescript() would COMMIT our transaction: one statement at a time.
    for statement in script.split(";\n"):
        if statement.strip():
            conn.execute(statement)


def _user_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def _not_a_ledger(path: Path, what: str) -> LedgerError:
    return LedgerError(
        f"{path} is not a runbook ledger: {what}",
        hint="move the file aside, or set RUNBOOK_HOME to another folder",
    )


def _cannot_open(path: Path, exc: BaseException) -> LedgerError:
    return LedgerError(
        f"cannot open the ledger {path}: {exc}",
        hint="check its permissions and free space, or set RUNBOOK_HOME to another folder",
    )
