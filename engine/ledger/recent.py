"""The newest run ids, read for shell completion: fast, read-only, and silent.

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
    try:
        rows = _read(path, prefix, limit)
    except sqlite3.Error:
        return []
    return [
        RecentRun(run_id, _printable(f"{playbook} {status}"))
        for run_id, playbook, status in rows
        if _OFFERED_ID.match(run_id)
    ]


def _read(path: Path, prefix: str, limit: int) -> list[tuple[str, str, str]]:
    conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=WAIT_SECONDS)
    try:
        rows = conn.execute(_NEWEST_WITH_PREFIX, (prefix, prefix + "\U0010ffff", limit))
        return [(str(run_id), str(playbook), str(status)) for run_id, playbook, status in rows]
    finally:
        conn.close()


def _printable(text: str) -> str:
    return "".join(ch for ch in text if ch.isprintable())[:80]
