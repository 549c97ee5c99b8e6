"""Ledger schema v4: each run's evidence hash and level, a version recorded with one
content only, and the sign-offs of promote and demote."""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing
from pathlib import Path

import pytest

from engine.ledger import SCHEMA_VERSION, Content, Ledger, RunInfo, VersionReused, new_run_id


def sql(path: Path, statement: str) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(path)) as conn, conn:
        return conn.execute(statement).fetchall()


def info(run_id: str, evidence: str | None, version: str = "1.0.0") -> RunInfo:
    return RunInfo(
        *(run_id, "disk-cleanup", version, f"sha256:{evidence}", "pb.yaml", "live", {}),
        *("ci", "laptop", "0.1.0", time.time()),
        evidence_hash=evidence,
        maturity=2,
    )


def test_a_v3_run_gets_its_level_from_its_start_and_counts_by_its_content_hash(
    ledger_path: Path,
) -> None:
    run_id = new_run_id()
    with Ledger.open(ledger_path) as ledger:
        ledger.start_run(info(run_id, "aaa"))
        ledger.append(run_id, "run_started", {"maturity": 3, "playbook": "disk-cleanup"})
        ledger.finish_run(run_id, "completed", {})
    for index in ("runs_by_evidence", "runs_by_version"):  # what a v3 engine wrote
        sql(ledger_path, f"DROP INDEX {index}")
    sql(ledger_path, "DROP TABLE maturity_changes")
    v5 = ("incident_reopenings", "incident_notes", "incident_runs", "incident_alerts", "incidents")
    for table in v5:
        sql(ledger_path, f"DROP TABLE {table}")  # and of v5
    for column in ("evidence_hash", "maturity"):
        sql(ledger_path, f"ALTER TABLE runs DROP COLUMN {column}")
    sql(ledger_path, "PRAGMA user_version = 3")

    with Ledger.open(ledger_path) as ledger:
        row = ledger.get_run(run_id)
        assert (row.maturity, row.evidence_hash) == (3, None)
        assert ledger.evidence_runs(Content("disk-cleanup", "aaa")) == []
        # matched by its content hash, one of the content's at each level
        legacy = Content("disk-cleanup", "aaa", ("sha256:other", "sha256:aaa"))
        assert [run.run_id for run in ledger.evidence_runs(legacy)] == [run_id]
        assert ledger.maturity_changes(["disk-cleanup"]) == []

    assert sql(ledger_path, "PRAGMA user_version") == [(SCHEMA_VERSION,)] == [(5,)]


def test_a_version_is_recorded_with_one_content_only(ledger: Ledger) -> None:
    first = new_run_id()
    ledger.start_run(info(first, "aaa"))
    ledger.start_run(info(new_run_id(), "aaa"))  # the same content again
    ledger.start_run(info(new_run_id(), "bbb", version="1.0.1"))

    with pytest.raises(VersionReused, match=f"recorded with other content \\(run {first}\\)"):
        ledger.start_run(info(new_run_id(), "bbb"))

    assert len(ledger.runs()) == 3
