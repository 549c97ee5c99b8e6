"""Drills in the ledger: a run row (its runs' parent) and a drill row, and ledgers
written before drills were kept, brought to the new schema as they are opened."""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing
from pathlib import Path

import pytest

from engine.core.errors import LedgerError
from engine.ledger import (
    SCHEMA_VERSION,
    DrillEnd,
    Ledger,
    RunInfo,
    is_drill_id,
    new_drill_id,
    new_run_id,
)


def sql(path: Path, statement: str) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(path)) as conn, conn:
        return conn.execute(statement).fetchall()


def info(
    run_id: str,
    playbook: str = "disk-cleanup",
    parent: str | None = None,
    mode: str = "drill",
    file: str = "pb.yaml",
) -> RunInfo:
    return RunInfo(
        *(run_id, playbook, "1.0.0", "sha256:aaa", file, mode, {}, "ci", "laptop"),
        *("0.1.0", time.time()),
        parent_run=parent,
    )


def end(verdict: str, inject: str | None = None) -> DrillEnd:
    return DrillEnd(verdict, 1.5, None, inject, None, None, {"verdict": verdict})


def test_drill_ids_are_run_ids_with_their_own_letter() -> None:
    drill_id, run_id = new_drill_id(), new_run_id()
    assert drill_id[0] == "d" and len(drill_id) == len(run_id)
    assert is_drill_id(drill_id) and is_drill_id("d2026") and not is_drill_id(run_id)
    assert not is_drill_id("deploy.yaml")


def test_a_drill_is_kept_with_its_runs(ledger: Ledger) -> None:
    drill_id, inject_id = new_drill_id(), new_run_id()
    ledger.start_drill(info(drill_id))
    ledger.start_run(info(inject_id, parent=drill_id))  # the drill is a run it can name
    ledger.finish_run(inject_id, "failed", {})
    assert ledger.drills()[0].status == "running"

    ledger.finish_drill(drill_id, "failed", end("inject_failed", inject_id))

    (drill,) = ledger.drills()
    assert (drill.drill_id, drill.verdict, drill.status) == (drill_id, "inject_failed", "failed")
    assert (drill.detected_after, drill.inject_run) == (1.5, inject_id)
    assert drill.report == {"verdict": "inject_failed"}
    assert ledger.get_drill(drill_id[:12]) == drill
    assert ledger.get_run(inject_id).parent_run == drill_id


def test_drills_are_listed_newest_first_and_by_playbook(ledger: Ledger) -> None:
    older, newer = new_drill_id(), new_drill_id()
    ledger.start_drill(info(older, "disk-cleanup"))
    ledger.start_drill(info(newer, "cert-renewal"))

    assert [d.drill_id for d in ledger.drills()] == [newer, older]
    assert [d.drill_id for d in ledger.drills(playbook="disk-cleanup")] == [older]


def test_drills_of_a_file_are_found_by_it_also_without_a_name(ledger: Ledger) -> None:
    named, unnamed, other = new_drill_id(), new_drill_id(), new_drill_id()
    ledger.start_drill(info(named, "disk-cleanup", file="/pb/disk.yaml"))
    ledger.start_drill(info(unnamed, "/pb/disk.yaml", file="/pb/disk.yaml"))  # keyed by file
    ledger.start_drill(info(other, "disk-cleanup", file="/elsewhere/disk.yaml"))

    by_file = ledger.drills(file="/pb/disk.yaml")
    either = ledger.drills(playbook="disk-cleanup", file="/pb/disk.yaml")

    assert [d.drill_id for d in by_file] == [unnamed, named]
    assert {d.file for d in by_file} == {"/pb/disk.yaml"}
    assert [d.drill_id for d in either] == [other, unnamed, named]


def test_runs_leave_out_the_drills_own_rows_when_asked_and_filter_by_mode(
    ledger: Ledger,
) -> None:
    drill_id, inject_id, live_id = new_drill_id(), new_run_id(), new_run_id()
    ledger.start_drill(info(drill_id))
    ledger.start_run(info(inject_id, parent=drill_id))
    ledger.start_run(info(live_id, mode="live"))

    assert [r.run_id for r in ledger.runs()] == [live_id, inject_id, drill_id]
    assert [r.run_id for r in ledger.runs(with_drills=False)] == [live_id, inject_id]
    assert [r.run_id for r in ledger.runs(mode="drill", with_drills=False)] == [inject_id]
    assert [r.run_id for r in ledger.runs(mode="live")] == [live_id]


def test_an_unknown_drill_says_where_drills_are_listed(ledger: Ledger) -> None:
    with pytest.raises(LedgerError, match="no drill 'd1999'") as err:
        ledger.get_drill("d1999")
    assert "runbook drills" in err.value.hint


def test_a_ledger_from_before_drills_is_upgraded_and_keeps_its_runs(ledger_path: Path) -> None:
    run_id = new_run_id()
    with Ledger.open(ledger_path) as ledger:
        ledger.start_run(info(run_id))
    later = sql(ledger_path, "SELECT name FROM sqlite_master WHERE type = 'table'")
    for (table,) in later:  # what an engine of schema v1 wrote: runs and events
        if table not in ("runs", "events"):
            sql(ledger_path, f"DROP TABLE {table}")
    for index in ("runs_by_evidence", "runs_by_version"):  # and the runs' v4 columns
        sql(ledger_path, f"DROP INDEX {index}")
    for column in ("evidence_hash", "maturity"):
        sql(ledger_path, f"ALTER TABLE runs DROP COLUMN {column}")
    sql(ledger_path, "PRAGMA user_version = 1")

    with Ledger.open(ledger_path) as ledger:
        assert ledger.get_run(run_id).run_id == run_id
        drill_id = new_drill_id()
        ledger.start_drill(info(drill_id))
        assert [d.drill_id for d in ledger.drills()] == [drill_id]

    assert sql(ledger_path, "PRAGMA user_version") == [(SCHEMA_VERSION,)] == [(5,)]
    assert ledger_path.stat().st_mode & 0o777 == 0o600
