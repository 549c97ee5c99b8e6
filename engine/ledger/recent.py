"""The newest run and incident ids, read for shell completion: fast, read-only, and
silent.

A completion runs at every Tab: it must not create a ledger that is not there, take a
write lock, mark runs interrupted (as `Ledger.open` does) or print an error into the
shell's command line. What it cannot read, it does not offer. (SQLite's reader of a
WAL file may leave its empty `-wal` and `-shm` companions, made with the ledger's own
mode; the next engine that opens the ledger removes them.)
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import NamedTuple

from engine.ledger.model import LEDGER_FILE, default_home

# A reader waits this long for a writer that holds the file (a checkpoint, say), then
# gives up: a Tab that hangs is worse than one that offers nothing.
WAIT_SECONDS = 0.2
# What a run id is made of (`r20250101T120000123-k3q9zx`, `drill-r…`): an id edited
# into the ledger with other characters is not offered, so it cannot break the
# completion's line format or reach the terminal as control characters.
_OFFERED_ID = re.compile(r"[A-Za-z0-9._-]{1,128}\Z")
_NEWEST_WITH_PREFIX = """
SELECT run_id, playbook, status FROM runs WHERE run_id >= ? AND run_id < ?
ORDER BY started_at DESC, run_id DESC LIMIT ?
"""
_NEWEST_INCIDENTS_WITH_PREFIX = """
SELECT incident_id, title, CASE WHEN resolved IS NULL THEN '' ELSE 'resolved' END
FROM incidents WHERE incident_id >= ? AND incident_id < ?
ORDER BY opened_at DESC, incident_id DESC LIMIT ?
"""


class RecentRun(NamedTuple):
    """A run as completion offers it: its id, and what it was (playbook and outcome)."""

    run_id: str
    description: str


def recent_runs(prefix: str, limit: int, ledger: Path | None = None) -> list[RecentRun]:
    """Up to `limit` runs whose id starts with `prefix`, newest first, from `ledger`
    (default: the ledger of `$RUNBOOK_HOME`); none when there is no ledger or it cannot
    be read."""
    path = ledger if ledger is not None else default_home() / LEDGER_FILE
    if not path.is_file():
        return []
    return _recent(path, _NEWEST_WITH_PREFIX, prefix, limit)


def recent_incidents(prefix: str, limit: int, ledger: Path | None = None) -> list[RecentRun]:
    """Up to `limit` incidents whose id starts with `prefix`, newest first, each with its
    title (and `resolved` once a human resolved it); none when there is no ledger, or
    one from before incidents."""
    path = ledger if ledger is not None else default_home() / LEDGER_FILE
    if not path.is_file():
        return []
    return _recent(path, _NEWEST_INCIDENTS_WITH_PREFIX, prefix, limit)


def _recent(path: Path, query: str, prefix: str, limit: int) -> list[RecentRun]:
    try:
        rows = _read(path, query, prefix, limit)
    except sqlite3.Error:
        return []
    return [
        RecentRun(found_id, _printable(f"{what} {status}".strip()))
        for found_id, what, status in rows
        if _OFFERED_ID.match(found_id)
    ]


def _read(path: Path, query: str, prefix: str, limit: int) -> list[tuple[str, str, str]]:
    conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=WAIT_SECONDS)
    try:
        rows = conn.execute(query, (prefix, prefix + "\U0010ffff", limit))
        return [(str(found_id), str(what), str(status)) for found_id, what, status in rows]
    finally:
        conn.close()


def _printable(text: str) -> str:
    return "".join(ch for ch in text if ch.isprintable())[:80]
