"""Target leases in the ledger, against real SQLite files and real processes: all or
nothing, fencing epochs that only grow, and who may take over whose lease."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

from tree import REPO

from engine.ledger import Ledger, new_run_id

ROOT = REPO

CHILD_TAKES_AND_DIES = """
import os, sys
from pathlib import Path
from engine.ledger import Ledger
ledger = Ledger.open(Path(sys.argv[1]))
assert ledger.take_leases(sys.argv[2], [sys.argv[3]]).blocked_by is None
os.kill(os.getpid(), 9)
"""


def sql(path: Path, statement: str, *params: object) -> list[tuple[object, ...]]:
    """Change the lock table directly, as an engine on another host would have left it."""
    with closing(sqlite3.connect(path)) as conn, conn:
        return conn.execute(statement, params).fetchall()


def elsewhere(path: Path, target: str, *, expires_in: float) -> None:
    """The target's lease now belongs to a run on another host, expiring in `expires_in` s."""
    sql(
        path,
        "UPDATE target_locks SET run_id = 'r-other', owner_host = 'another-host',"
        " owner_pid = 1, expires_at = ? WHERE target = ?",
        time.time() + expires_in,
        target,
    )


def test_a_run_takes_all_its_targets_or_none(ledger: Ledger, ledger_path: Path) -> None:
    first, second = new_run_id(), new_run_id()
    assert ledger.take_leases(first, ["db/b"]).blocked_by is None

    grant = ledger.take_leases(second, ["db/c", "db/a", "db/b"])

    assert grant.leases == ()
    assert grant.blocked_by is not None and grant.blocked_by.run_id == first
    assert [lease.target for lease in ledger.leases()] == ["db/b"]  # a and c not kept
    assert sql(ledger_path, "SELECT target FROM target_locks ORDER BY target") == [("db/b",)]


def test_targets_are_taken_once_each_in_sorted_order(ledger: Ledger) -> None:
    grant = ledger.take_leases(new_run_id(), ["db/b", "db/a", "db/b"])

    assert [(lease.target, lease.epoch) for lease in grant.leases] == [("db/a", 1), ("db/b", 1)]
    assert {lease.pid for lease in grant.leases} == {os.getpid()}


def test_the_epoch_grows_with_every_taking_and_survives_release(ledger: Ledger) -> None:
    epochs = []
    for _ in range(3):
        grant = ledger.take_leases(new_run_id(), ["db/a"])
        epochs.append(grant.leases[0].epoch)
        assert ledger.release_leases(grant.leases) == list(grant.leases)
        assert ledger.leases() == []

    assert epochs == [1, 2, 3]


def test_a_stale_holder_cannot_renew_or_release_a_lease_taken_over(
    ledger: Ledger, ledger_path: Path
) -> None:
    old = ledger.take_leases(new_run_id(), ["db/a"]).leases
    elsewhere(ledger_path, "db/a", expires_in=-1)
    new = ledger.take_leases(new_run_id(), ["db/a"])
    assert [lease.epoch for lease in new.leases] == [2]
    assert [lease.run_id for lease in new.taken_over] == ["r-other"]

    assert ledger.renew_leases(old) == list(old)  # lost: the fencing epoch moved on
    assert ledger.release_leases(old) == []
    assert [lease.run_id for lease in ledger.leases()] == [new.leases[0].run_id]


def test_a_live_lease_of_another_host_is_respected_until_it_expires(
    ledger: Ledger, ledger_path: Path
) -> None:
    ledger.take_leases(new_run_id(), ["db/a"])
    elsewhere(ledger_path, "db/a", expires_in=60)
    blocked = ledger.take_leases(new_run_id(), ["db/a"]).blocked_by
    assert blocked is not None and (blocked.host, blocked.state()) == ("another-host", "held")

    elsewhere(ledger_path, "db/a", expires_in=-1)
    assert ledger.leases()[0].state() == "expired"
    assert ledger.take_leases(new_run_id(), ["db/a"]).blocked_by is None


def test_renewal_pushes_the_expiry_forward(ledger: Ledger, ledger_path: Path) -> None:
    leases = ledger.take_leases(new_run_id(), ["db/a"]).leases
    sql(ledger_path, "UPDATE target_locks SET expires_at = 0")

    assert ledger.renew_leases(leases) == []

    assert ledger.leases()[0].expires_at > time.time() + 30


def test_the_lease_of_a_killed_process_is_taken_over_at_once(
    ledger: Ledger, ledger_path: Path
) -> None:
    dead_run = new_run_id()
    child = subprocess.run(
        [sys.executable, "-c", CHILD_TAKES_AND_DIES, str(ledger_path), dead_run, "db/a"],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert child.returncode == -9, child.stderr
    [left] = ledger.leases()
    assert (left.run_id, left.state()) == (dead_run, "owner dead")

    grant = ledger.take_leases(new_run_id(), ["db/a"])

    assert [lease.run_id for lease in grant.taken_over] == [dead_run]
    assert [lease.epoch for lease in grant.leases] == [2]


def test_a_ledger_without_the_lock_table_lists_no_lease(ledger: Ledger) -> None:
    assert ledger.leases() == []
    assert ledger.take_leases(new_run_id(), []).leases == ()
