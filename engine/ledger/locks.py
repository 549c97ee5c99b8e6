"""Target locks: one lease row per rendered target, kept in the ledger.

A run that declares `targets:` takes a lease on each of them before step 1, all of
them or none, in one write transaction and in sorted order. A lease names its owner
(run id, host, pid and the process's start time, so that a reused pid is not taken
for the owner), when it was taken, when it expires unless renewed, and an epoch: a
number that grows by one every time the target is taken, never reused, so that a
holder can prove the lease is still the one it was given (a fencing token).

A lease can be taken over when it is free, expired, or held by a process that is
provably dead: on this host, its pid is gone or belongs to a process that started at
another time. This module holds what every ledger shares (the records, the rules) and
the SQLite statements; `engine.ledger.sqlite.Ledger` runs them in its transactions.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence

import msgspec.structs
from msgspec import Struct

from engine.ledger.model import host_name, process_alive

# How long a lease lives without renewal, and how often a live run renews it. A dead
# owner on this host is recognised at once (its pid); the lifetime only matters for an
# owner on another host, or one that cannot write for a while (a stopped process, a
# ledger busy for longer than its timeout): four renewals in a row must fail first.
LEASE_SECONDS = 60.0
RENEW_EVERY = 15.0

TABLE = """
CREATE TABLE IF NOT EXISTS target_locks (
    target TEXT PRIMARY KEY,
    -- grows by one every time the target is taken; kept while the target is free
    epoch INTEGER NOT NULL,
    -- the holder, or NULL for a free target
    run_id TEXT, owner_host TEXT, owner_pid INTEGER, owner_start INTEGER,
    since REAL, expires_at REAL
) WITHOUT ROWID
"""
_SELECT = "SELECT * FROM target_locks WHERE target = ?"
_TAKE = """
INSERT INTO target_locks (target, epoch, run_id, owner_host, owner_pid, owner_start, since,
    expires_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (target) DO UPDATE SET epoch = excluded.epoch, run_id = excluded.run_id,
    owner_host = excluded.owner_host, owner_pid = excluded.owner_pid,
    owner_start = excluded.owner_start, since = excluded.since, expires_at = excluded.expires_at
"""
_RENEW = """
UPDATE target_locks SET expires_at = ? WHERE target = ? AND run_id = ? AND epoch = ?
"""
_RELEASE = """
UPDATE target_locks SET run_id = NULL, owner_host = NULL, owner_pid = NULL,
    owner_start = NULL, since = NULL, expires_at = NULL
WHERE target = ? AND run_id = ? AND epoch = ?
"""
_HELD = "SELECT * FROM target_locks WHERE run_id IS NOT NULL ORDER BY target"
_EXISTS = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'target_locks'"


class Owner(Struct, frozen=True):
    """The engine process that holds (or asks for) a lease."""

    host: str
    pid: int
    start: int | None


class Lease(Struct, frozen=True):
    """One held target: who holds it since when, until when, and its fencing epoch."""

    target: str
    epoch: int
    run_id: str
    host: str
    pid: int
    start: int | None
    since: float
    expires_at: float

    @property
    def owner(self) -> Owner:
        return Owner(self.host, self.pid, self.start)

    def state(self, now: float | None = None) -> str:
        """`held`, `expired` or `owner dead` (the last two can be taken over)."""
        if self.owner_dead():
            return "owner dead"
        return "expired" if self.expires_at <= (time.time() if now is None else now) else "held"

    def owner_dead(self) -> bool:
        """Provably dead: on this host, and its process is gone (or the pid was reused)."""
        return self.host == host_name() and not process_alive(self.pid, self.start)

    def describe(self) -> str:
        """`run r… (host h, pid 42, since 2026-01-02 03:04:05 UTC)`."""
        since = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.since))
        return f"run {self.run_id} (host {self.host}, pid {self.pid}, since {since})"


class Grant(Struct, frozen=True):
    """What a take gave: the leases (one per target), or the lease that stood in the way."""

    leases: tuple[Lease, ...] = ()
    blocked_by: Lease | None = None
    taken_over: tuple[Lease, ...] = ()  # leases of dead or expired owners that were replaced


def free_for(lease: Lease | None, run_id: str, now: float) -> bool:
    """Whether `run_id` may take a target whose current lease is `lease`."""
    return lease is None or lease.run_id == run_id or lease.state(now) != "held"


def normalised(targets: Sequence[str]) -> tuple[str, ...]:
    """The lock keys of a run: each distinct rendered target once, in sorted order (the
    order every run takes them in, so two runs never wait for each other crosswise)."""
    return tuple(sorted(set(targets)))


# -- SQLite ------------------------------------------------------------------------


def ensure_table(conn: sqlite3.Connection) -> None:
    """Inside a write transaction: create the lock table of an older ledger."""
    conn.execute(TABLE)


def has_table(conn: sqlite3.Connection) -> bool:
    return conn.execute(_EXISTS).fetchone() is not None


def current(conn: sqlite3.Connection, target: str) -> tuple[int, Lease | None]:
    """The target's last epoch (0 if never taken) and its lease, if someone holds it."""
    row = conn.execute(_SELECT, (target,)).fetchone()
    if row is None:
        return 0, None
    return int(row["epoch"]), _lease(row) if row["run_id"] is not None else None


def blocker(conn: sqlite3.Connection, run_id: str, targets: Sequence[str]) -> Lease | None:
    """The first lease (in target order) that keeps `run_id` from taking `targets` now."""
    if not has_table(conn):
        return None
    now = time.time()
    for target in targets:
        lease = current(conn, target)[1]
        if not free_for(lease, run_id, now):
            return lease
    return None


def take(conn: sqlite3.Connection, run_id: str, targets: Sequence[str], owner: Owner) -> Grant:
    """Inside a write transaction: take every target for `run_id`, or none of them (the
    caller rolls back when `blocked_by` is set). A target `run_id` holds already keeps
    its lease and epoch (a drill's runs work under the drill's leases)."""
    now = time.time()
    leases: list[Lease] = []
    taken_over: list[Lease] = []
    for target in targets:
        epoch, lease = current(conn, target)
        if not free_for(lease, run_id, now):
            return Grant(blocked_by=lease)
        if lease is not None and lease.run_id == run_id:  # held already: the same lease
            new = msgspec.structs.replace(lease, expires_at=now + LEASE_SECONDS)
            conn.execute(_TAKE, _row(new))
            leases.append(new)
            continue
        if lease is not None:
            taken_over.append(lease)
        new = Lease(target, epoch + 1, run_id, *_owner_fields(owner), now, now + LEASE_SECONDS)
        conn.execute(_TAKE, _row(new))
        leases.append(new)
    return Grant(tuple(leases), taken_over=tuple(taken_over))


def renew(conn: sqlite3.Connection, leases: Sequence[Lease]) -> list[Lease]:
    """Inside a write transaction: extend each lease still held under its epoch; the
    leases that were lost (taken over by another run)."""
    expires_at = time.time() + LEASE_SECONDS
    lost = []
    for lease in leases:
        cur = conn.execute(_RENEW, (expires_at, lease.target, lease.run_id, lease.epoch))
        if cur.rowcount != 1:
            lost.append(lease)
    return lost


def release(conn: sqlite3.Connection, leases: Sequence[Lease]) -> list[Lease]:
    """Inside a write transaction: free each lease still held under its epoch; those freed."""
    freed = []
    for lease in leases:
        cur = conn.execute(_RELEASE, (lease.target, lease.run_id, lease.epoch))
        if cur.rowcount == 1:
            freed.append(lease)
    return freed


def held(conn: sqlite3.Connection) -> list[Lease]:
    """Every lease someone holds (or held and died holding), by target."""
    if not has_table(conn):
        return []
    return [_lease(row) for row in conn.execute(_HELD).fetchall()]


def _owner_fields(owner: Owner) -> tuple[str, int, int | None]:
    return owner.host, owner.pid, owner.start


def _row(lease: Lease) -> tuple[object, ...]:
    return (
        *(lease.target, lease.epoch, lease.run_id, lease.host, lease.pid, lease.start),
        *(lease.since, lease.expires_at),
    )


def _lease(row: sqlite3.Row) -> Lease:
    return Lease(
        target=row["target"],
        epoch=int(row["epoch"]),
        run_id=row["run_id"],
        host=row["owner_host"],
        pid=int(row["owner_pid"]),
        start=row["owner_start"],
        since=float(row["since"]),
        expires_at=float(row["expires_at"]),
    )
