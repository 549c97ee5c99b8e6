"""The durable ledger, against real SQLite files and real (killed) processes."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest
from tree import REPO

from engine.core.errors import LedgerError
from engine.ledger import SCHEMA_VERSION, Ledger, RunInfo, default_home, new_run_id

ROOT = REPO
HAS_PROC = Path("/proc/self/stat").exists()

CHILD_DIES_MID_RUN = """
import os, sys, time
from pathlib import Path
from engine.ledger import Ledger, RunInfo
path, run_id = Path(sys.argv[1]), sys.argv[2]
ledger = Ledger.open(path)
ledger.start_run(RunInfo(run_id, "disk-cleanup", "1.0.0", "sha256:aaa", "pb.yaml", "live",
                         {}, "ci", "laptop", "0.1.0", time.time()))
ledger.append(run_id, "intent", {"command": ["rm", "-rf", "/tmp/cache"]}, step_id="clean")
os.kill(os.getpid(), 9)
"""

CHILD_APPENDS = """
import sys, time
from pathlib import Path
from engine.ledger import Ledger
path, run_id, go, writer = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]), sys.argv[4]
with Ledger.open(path) as ledger:
    (go.parent / f"ready-{writer}").touch()
    while not go.exists():
        time.sleep(0.001)
    for i in range(500):
        ledger.append(run_id, "tick", {"writer": writer, "i": i})
"""

CHILD_OPENS = """
import sys, time
from pathlib import Path
from engine.ledger import Ledger
start = float(sys.argv[2])
while time.time() < start:  # every opener at the same moment, once started
    pass
Ledger.open(Path(sys.argv[1])).close()
"""


@pytest.fixture(autouse=True)
def _no_real_state_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep every test away from the user's real ~/.local/state."""
    monkeypatch.setenv("RUNBOOK_HOME", str(tmp_path / "home"))


def make_info(
    run_id: str | None = None,
    *,
    playbook: str = "disk-cleanup",
    content_hash: str = "sha256:aaa",
    started_at: float | None = None,
    parent_run: str | None = None,
) -> RunInfo:
    return RunInfo(
        run_id=run_id or new_run_id(),
        playbook=playbook,
        version="1.0.0",
        content_hash=content_hash,
        file="playbooks/demo/disk-cleanup.yaml",
        mode="rollback" if parent_run else "live",
        inputs={"path": "/var/tmp", "keep_days": 7},
        operator="alice",
        host="laptop",
        engine_version="0.1.0",
        started_at=time.time() if started_at is None else started_at,
        parent_run=parent_run,
    )


def spawn(code: str, *args: object) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-c", code, *map(str, args)]
    return subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE)


def finish(proc: subprocess.Popen[bytes], timeout: float = 60) -> tuple[int, str]:
    """Wait for a child; its exit code and what it wrote to stderr."""
    _, err = proc.communicate(timeout=timeout)
    return proc.returncode, err.decode()


def sql(path: Path, statement: str) -> list[tuple[object, ...]]:
    """Run one statement on the ledger file directly, as another tool would."""
    with closing(sqlite3.connect(path)) as conn, conn:
        return conn.execute(statement).fetchall()


# -- round trip ---------------------------------------------------------------------


def test_run_and_events_round_trip(ledger: Ledger) -> None:
    info = make_info()
    ledger.start_run(info)
    assert ledger.append(info.run_id, "intent", {"path": Path("/var/tmp")}, step_id="clean") == 1
    assert ledger.append(info.run_id, "note", {"text": "ünïcode"}) == 2
    events = [("result", "clean", {"rc": 0}), ("intent", "x", {})]
    assert ledger.append_many(info.run_id, events) == [3, 4]
    ledger.finish_run(info.run_id, "completed", {"steps": 2, "exit": 0})

    run = ledger.get_run(info.run_id)
    assert (run.status, run.summary, run.mode, run.operator) == (
        "completed",
        {"steps": 2, "exit": 0},
        "live",
        "alice",
    )
    assert run.started_at == info.started_at
    assert run.finished_at is not None and run.finished_at >= run.started_at
    assert ledger.run_info(info.run_id) == info
    events = ledger.events(info.run_id)
    assert [(e.seq, e.kind, e.step_id) for e in events] == [
        (1, "intent", "clean"),
        (2, "note", None),
        (3, "result", "clean"),
        (4, "intent", "x"),
    ]
    assert events[0].data == {"path": "/var/tmp"}  # not JSON: stored as its string
    assert events[1].data == {"text": "ünïcode"}
    assert [e.ts for e in events] == sorted(e.ts for e in events)


def test_event_data_json_cannot_hold_is_stored_as_valid_json(ledger: Ledger) -> None:
    info = make_info()
    ledger.start_run(info)
    odd = {
        "nan": float("nan"),  # not a JSON number: null
        "set": {3},
        "big": 2**70,
        "keys": {1: "int"},
    }
    ledger.append(info.run_id, "odd", odd)
    # A lone surrogate, as argv keeps an undecodable byte: SQLite cannot store it raw.
    ledger.append(info.run_id, "surrogate", {"input": "caf\udce9", "keys": {1: "int"}})

    rows = sql(ledger.path, "SELECT data FROM events ORDER BY seq")
    data, surrogate = (event.data for event in ledger.events(info.run_id))
    assert all(isinstance(row[0], str) for row in rows)
    assert data["nan"] is None and data["set"] == [3] and data["big"] == 2**70
    assert data["keys"] == {"1": "int"}
    assert surrogate == {"input": "caf\udce9", "keys": {"1": "int"}}


def test_events_survive_reopening(ledger_path: Path) -> None:
    info = make_info()
    with Ledger.open(ledger_path) as first:
        first.start_run(info)
        first.append(info.run_id, "intent", {"n": 1}, step_id="a")
        first.finish_run(info.run_id, "failed", {"failed_step": "a"})
    with Ledger.open(ledger_path) as second:
        assert second.get_run(info.run_id).status == "failed"
        assert [e.data for e in second.events(info.run_id)] == [{"n": 1}]


def test_rollback_run_points_at_its_parent(ledger: Ledger) -> None:
    parent = make_info()
    ledger.start_run(parent)
    child = make_info(parent_run=parent.run_id)
    ledger.start_run(child)
    assert ledger.get_run(child.run_id).parent_run == parent.run_id
    assert ledger.run_info(child.run_id).mode == "rollback"


def test_writes_to_an_unknown_run_are_refused(ledger: Ledger) -> None:
    with pytest.raises(LedgerError, match="no run"):
        ledger.finish_run("r-missing", "completed", {})
    with pytest.raises(LedgerError, match="r-missing"):
        ledger.append("r-missing", "intent", {})
    with pytest.raises(ValueError, match="outcome"):
        ledger.finish_run("r-missing", "sort-of-ok", {})


def test_append_many_is_atomic(ledger: Ledger, ledger_path: Path) -> None:
    info = make_info()
    ledger.start_run(info)
    ledger.append(info.run_id, "intent", {}, step_id="a")
    unbindable_step_id: str = object()  # type: ignore[assignment]
    with pytest.raises(LedgerError):
        ledger.append_many(
            info.run_id, [("result", "a", {"rc": 0}), ("intent", unbindable_step_id, {})]
        )
    assert [e.kind for e in ledger.events(info.run_id)] == ["intent"]
    assert sql(ledger_path, "SELECT count(*) FROM events") == [(1,)]
    assert ledger.append_many(info.run_id, [("result", "a", {}), ("intent", "b", {})]) == [2, 3]


def test_events_are_stored_at_the_times_they_happened(ledger: Ledger) -> None:
    """A batch is committed after its first events happened: each keeps its own time."""
    info = make_info()
    ledger.start_run(info)
    batch = [("result", "a", {}), ("sample", None, {}), ("intent", "b", {})]
    ledger.append_many(info.run_id, batch, [100.0, 101.5, 103.0])
    ledger.append(info.run_id, "note", {})
    times = [e.ts for e in ledger.events(info.run_id)]
    assert times[:3] == [100.0, 101.5, 103.0]
    assert times[3] > 103.0  # without times given: when it was committed
    with pytest.raises(ValueError, match="2 events with 1 times"):
        ledger.append_many(info.run_id, batch[:2], [1.0])


# -- ids, listing, lookup -----------------------------------------------------------


def test_events_another_engine_wrote_to_the_run_are_numbered_after(
    ledger: Ledger, ledger_path: Path
) -> None:
    # This engine remembers the run's last number; another one (marking the run
    # interrupted, say) writes in between: the next event comes after its events.
    info = make_info()
    ledger.start_run(info)
    assert ledger.append(info.run_id, "first", {}) == 1
    with Ledger.open(ledger_path) as other:
        assert other.append_many(info.run_id, [("other", None, {}), ("other", None, {})]) == [2, 3]

    assert ledger.append_many(info.run_id, [("after", None, {}), ("after", None, {})]) == [4, 5]
    assert ledger.append(info.run_id, "last", {}) == 6
    kinds = [e.kind for e in ledger.events(info.run_id)]  # in sequence order
    assert kinds == ["first", "other", "other", "after", "after", "last"]


def test_run_ids_sort_in_creation_order() -> None:
    ids = [new_run_id() for _ in range(2000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"r\d{8}T\d{9}-[a-z2-7]{6}", i) for i in ids)


def test_runs_are_listed_newest_first_with_filters(ledger: Ledger) -> None:
    infos = [
        make_info(f"r2025010{n}T000000000-aaaaaa", playbook=pb, started_at=1000.0 + n)
        for n, pb in enumerate(["a", "b", "a", "a"], start=1)
    ]
    for info in infos:
        ledger.start_run(info)
    ledger.finish_run(infos[0].run_id, "recovered", {})
    ledger.finish_run(infos[2].run_id, "failed", {})
    newest_first = [i.run_id for i in reversed(infos)]
    assert [r.run_id for r in ledger.runs()] == newest_first
    assert [r.run_id for r in ledger.runs(limit=2)] == newest_first[:2]
    assert [r.run_id for r in ledger.runs(playbook="b")] == [infos[1].run_id]
    assert [r.run_id for r in ledger.runs(outcome="failed")] == [infos[2].run_id]
    assert [r.run_id for r in ledger.runs(playbook="a", since=1002.0)] == [
        infos[3].run_id,
        infos[2].run_id,
    ]


def test_evidence_is_every_finished_run_of_that_content(ledger: Ledger) -> None:
    same = [make_info() for _ in range(3)]
    other = make_info(content_hash="sha256:bbb")
    for info in [*same, other]:
        ledger.start_run(info)
    ledger.finish_run(same[0].run_id, "recovered", {})
    ledger.finish_run(same[1].run_id, "rollback_failed", {})
    ledger.finish_run(other.run_id, "recovered", {})
    evidence = ledger.evidence("disk-cleanup", "sha256:aaa")
    assert {r.run_id: r.status for r in evidence} == {
        same[0].run_id: "recovered",
        same[1].run_id: "rollback_failed",
    }


def test_a_unique_prefix_finds_the_run(ledger: Ledger) -> None:
    ids = ["r20250101T000000000-aaaaaa", "r20250101T000000000-aabbbb", "r20250102T000000000-cc"]
    for run_id in ids:
        ledger.start_run(make_info(run_id))
    ledger.append(ids[2], "intent", {})
    assert ledger.get_run("r20250102").run_id == ids[2]
    assert ledger.get_run("r20250101T000000000-aab").run_id == ids[1]
    assert ledger.get_run(ids[0]).run_id == ids[0]
    assert [e.kind for e in ledger.events("r20250102")] == ["intent"]
    assert ledger.run_info("r20250101T000000000-aab").run_id == ids[1]


@pytest.mark.parametrize("prefix", ["r20250101T000000000-aa", "r2025", "r"])
def test_an_ambiguous_prefix_is_an_error(ledger: Ledger, prefix: str) -> None:
    for run_id in ["r20250101T000000000-aaaaaa", "r20250101T000000000-aabbbb"]:
        ledger.start_run(make_info(run_id))
    with pytest.raises(LedgerError, match="ambiguous") as err:
        ledger.get_run(prefix)
    assert "r20250101T000000000-aaaaaa" in err.value.message
    assert err.value.hint


@pytest.mark.parametrize("prefix", ["r2024", "x", "", "r20250101T000000000-aaaaaaa"])
def test_an_unknown_run_is_an_error_with_a_hint(ledger: Ledger, prefix: str) -> None:
    ledger.start_run(make_info("r20250101T000000000-aaaaaa"))
    with pytest.raises(LedgerError, match="no run") as err:
        ledger.get_run(prefix)
    assert "runbook runs" in err.value.hint
    with pytest.raises(LedgerError, match="no run"):
        ledger.events(prefix)


# -- crashes and ownership ----------------------------------------------------------


def test_a_killed_engine_leaves_an_interrupted_run(ledger_path: Path) -> None:
    run_id = new_run_id()
    with Ledger.open(ledger_path) as ledger:
        child = spawn(CHILD_DIES_MID_RUN, ledger_path, run_id)
        assert finish(child) == (-9, "")
        assert ledger.get_run(run_id).status == "running"
        assert ledger.mark_interrupted() == [run_id]
        assert ledger.mark_interrupted() == []
        assert ledger.get_run(run_id).status == "interrupted"
        events = ledger.events(run_id)
    assert [(e.seq, e.kind) for e in events] == [(1, "intent"), (2, "interrupted")]
    assert events[0].data == {"command": ["rm", "-rf", "/tmp/cache"]}
    assert sql(ledger_path, "PRAGMA integrity_check") == [("ok",)]


@pytest.mark.skipif(not hasattr(os, "waitid"), reason="needs waitid(WNOWAIT)")
def test_a_zombie_engine_counts_as_gone_when_the_ledger_opens(ledger_path: Path) -> None:
    run_id = new_run_id()
    child = spawn(CHILD_DIES_MID_RUN, ledger_path, run_id)
    try:
        # Wait for the death but do not reap: the child stays a zombie with its pid.
        os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)
        with Ledger.open(ledger_path) as ledger:
            run = ledger.get_run(run_id)
    finally:
        assert finish(child) == (-9, "")
    assert run.status == "interrupted"


def test_a_run_of_this_live_process_is_left_alone(ledger_path: Path) -> None:
    info = make_info()
    with Ledger.open(ledger_path) as first:
        first.start_run(info)
        with Ledger.open(ledger_path) as second:
            assert second.mark_interrupted() == []
            assert second.get_run(info.run_id).status == "running"
        first.append(info.run_id, "intent", {})
        assert first.get_run(info.run_id).status == "running"


@pytest.mark.skipif(not HAS_PROC, reason="process start times come from /proc")
def test_a_reused_pid_does_not_keep_a_run_alive(ledger: Ledger, ledger_path: Path) -> None:
    info = make_info()
    ledger.start_run(info)
    # Same pid as this process, but another start time: the pid was reused.
    sql(ledger_path, "UPDATE runs SET owner_start = owner_start + 1")
    assert ledger.mark_interrupted() == [info.run_id]


def test_runs_of_another_host_are_left_alone(ledger: Ledger, ledger_path: Path) -> None:
    info = make_info()
    ledger.start_run(info)
    dead = spawn("pass")
    finish(dead)
    sql(ledger_path, f"UPDATE runs SET owner_host = 'elsewhere', owner_pid = {dead.pid}")
    assert ledger.mark_interrupted() == []
    assert ledger.get_run(info.run_id).status == "running"


# -- concurrency --------------------------------------------------------------------


def test_two_engines_append_concurrently(ledger: Ledger, ledger_path: Path, tmp_path: Path) -> None:
    info = make_info()
    ledger.start_run(info)
    go = tmp_path / "go"
    writers = [spawn(CHILD_APPENDS, ledger_path, info.run_id, go, w) for w in ("a", "b")]
    deadline = time.monotonic() + 60
    while not all((tmp_path / f"ready-{w}").exists() for w in ("a", "b")):
        assert time.monotonic() < deadline, "the writers did not start"
        time.sleep(0.01)
    go.touch()  # both have the ledger open: now they race
    for writer in writers:
        assert finish(writer, timeout=240) == (0, "")
    events = ledger.events(info.run_id)
    assert [e.seq for e in events] == list(range(1, 1001))
    for name in ("a", "b"):
        assert [e.data["i"] for e in events if e.data["writer"] == name] == list(range(500))
    assert sql(ledger_path, "PRAGMA integrity_check") == [("ok",)]


@pytest.mark.parametrize("attempt", range(5))
def test_engines_create_a_new_ledger_at_once(tmp_path: Path, attempt: int) -> None:
    # SQLite refuses some of the locks that making a new file WAL takes without waiting
    # (deadlock avoidance): six engines starting together on a new ledger all open it.
    ledger_path = tmp_path / f"state-{attempt}" / "ledger.sqlite3"
    start = time.time() + 0.7
    openers = [spawn(CHILD_OPENS, ledger_path, start) for _ in range(6)]
    for opener in openers:
        assert finish(opener) == (0, "")
    assert sql(ledger_path, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert sql(ledger_path, "PRAGMA journal_mode") == [("wal",)]


# -- opening ------------------------------------------------------------------------


def test_a_garbage_file_is_not_a_ledger(ledger_path: Path) -> None:
    ledger_path.parent.mkdir(parents=True)
    garbage = b"this is not a database\n" * 200
    ledger_path.write_bytes(garbage)
    with pytest.raises(LedgerError, match="not a runbook ledger") as err:
        Ledger.open(ledger_path)
    assert err.value.hint
    assert "Traceback" not in err.value.render()
    assert ledger_path.read_bytes() == garbage


def test_another_sqlite_database_is_not_a_ledger(ledger_path: Path) -> None:
    ledger_path.parent.mkdir(parents=True)
    sql(ledger_path, "CREATE TABLE photos (id INTEGER)")
    with pytest.raises(LedgerError, match="not a runbook ledger"):
        Ledger.open(ledger_path)


def test_a_newer_schema_is_refused(ledger_path: Path) -> None:
    Ledger.open(ledger_path).close()
    sql(ledger_path, "PRAGMA user_version = 99")
    with pytest.raises(LedgerError, match="v99") as err:
        Ledger.open(ledger_path)
    assert "upgrade" in err.value.hint


def test_the_ledger_is_private_to_its_owner(ledger: Ledger, ledger_path: Path) -> None:
    assert ledger_path.parent.stat().st_mode & 0o777 == 0o700
    assert ledger_path.stat().st_mode & 0o777 == 0o600


def test_open_without_a_path_uses_the_home(tmp_path: Path) -> None:
    with Ledger.open() as ledger:
        assert ledger.path == tmp_path / "home" / "ledger.sqlite3"
    assert (tmp_path / "home" / "ledger.sqlite3").exists()


def test_default_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RUNBOOK_HOME", str(tmp_path / "rb"))
    assert default_home() == tmp_path / "rb"
    monkeypatch.delenv("RUNBOOK_HOME")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert default_home() == tmp_path / "xdg" / "runbook-engine"
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "u"))
    assert default_home() == tmp_path / "u" / ".local" / "state" / "runbook-engine"
