"""Shell completion as bash asks for it: `_RUNBOOK_COMPLETE=bash_complete` with the words
typed so far (COMP_WORDS) and the word being completed (COMP_CWORD), in a new process;
run ids come from a ledger holding real runs, playbook paths from real folders."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from run_fixtures import runbook

from engine.ledger import LEDGER_FILE, Ledger, RunInfo, default_home

# How many run ids a Tab offers (engine/cli/completion.py): the newest ones.
RUN_IDS_OFFERED = 20


def complete(words: str, cwd: Path | None = None) -> list[str]:
    """What bash would offer for the last of `words` (a trailing blank starts a new one)."""
    typed = words.split(" ")
    done = runbook(
        extra_env={
            "_RUNBOOK_COMPLETE": "bash_complete",
            "COMP_WORDS": words,
            "COMP_CWORD": str(len(typed) - 1),
        },
        cwd=cwd,
    )
    assert done.returncode == 0, done.stderr
    assert not done.stderr
    offered = []
    for line in filter(None, done.stdout.splitlines()):  # click prints one empty line for none
        kind, _, value = line.partition(",")
        assert kind == "plain", line
        offered.append(value)
    return offered


def record_runs(count: int, playbook: str = "disk-cleanup") -> list[str]:
    """`count` finished runs in the test's ledger, started a minute apart; their ids,
    oldest first."""
    ids = [f"r20260101T0000{n:02d}000-abc{n:03d}" for n in range(count)]
    with Ledger.open() as ledger:
        for n, run_id in enumerate(ids):
            ledger.start_run(_info(run_id, playbook, started_at=1_767_225_600.0 + 60 * n))
            ledger.finish_run(run_id, "completed", {})
    return ids


def _info(run_id: str, playbook: str, started_at: float) -> RunInfo:
    return RunInfo(
        *(run_id, playbook, "1.0.0", "sha256:aaa", f"{playbook}.yaml", "live", {}),
        *("alice", "laptop", "0.1.0", started_at),
    )


def test_rollback_completes_the_newest_run_ids_first_and_a_bounded_number() -> None:
    ids = record_runs(RUN_IDS_OFFERED + 5)
    assert complete("runbook rollback ") == ids[::-1][:RUN_IDS_OFFERED]


def test_rollback_completes_the_run_ids_that_start_with_what_was_typed() -> None:
    ids = record_runs(12)
    assert complete("runbook rollback r20260101T00001") == [ids[11], ids[10]]
    assert complete("runbook rollback nosuch") == []


def test_show_completes_run_ids_and_playbook_files(tmp_path: Path) -> None:
    ids = record_runs(3)
    (tmp_path / "restart.yaml").write_text("")
    assert complete("runbook show r", cwd=tmp_path) == [*ids[::-1], "restart.yaml"]
    assert complete("runbook show re", cwd=tmp_path) == ["restart.yaml"]


@pytest.mark.parametrize("verb", ["run", "plan", "drill", "validate", "show"])
def test_playbook_arguments_complete_yaml_files_and_folders(verb: str, tmp_path: Path) -> None:
    for name in ("disk.yaml", "db.yml", "notes.txt", ".hidden.yaml"):
        (tmp_path / "pb" / name).parent.mkdir(exist_ok=True)
        (tmp_path / "pb" / name).write_text("")
    (tmp_path / "pb" / "linux").mkdir()
    assert complete(f"runbook {verb} pb/", cwd=tmp_path) == [
        "pb/db.yml",
        "pb/disk.yaml",
        "pb/linux/",
    ]
    assert complete(f"runbook {verb} pb/.h", cwd=tmp_path) == ["pb/.hidden.yaml"]


def test_a_lone_folder_is_entered_so_the_shell_does_not_end_the_word(tmp_path: Path) -> None:
    demo = tmp_path / "playbooks" / "demo"
    demo.mkdir(parents=True)
    (demo / "a.yaml").write_text("")
    (demo / "b.yaml").write_text("")
    assert complete("runbook run pla", cwd=tmp_path) == [
        "playbooks/demo/a.yaml",
        "playbooks/demo/b.yaml",
    ]


def test_completion_without_a_ledger_offers_nothing_and_creates_none(tmp_path: Path) -> None:
    assert complete("runbook rollback ", cwd=tmp_path) == []
    assert not default_home().exists()


def test_completion_changes_nothing_in_the_ledger() -> None:
    """A Tab only reads: a run whose engine is gone stays as recorded, where opening the
    ledger for a command marks it interrupted."""
    gone = "r20270101T000000000-zzz999"
    with Ledger.open() as ledger:
        ledger.start_run(_info(gone, "gone", time.time()))
    _set(gone, "owner_pid = 0")  # pid 0 is never a process's: its engine is gone
    assert complete("runbook rollback r2027") == [gone]
    assert _status(gone) == "running"
    Ledger.open().close()
    assert _status(gone) == "interrupted"


def test_a_run_id_with_characters_a_shell_line_cannot_hold_is_not_offered() -> None:
    ids = record_runs(2)
    _set(ids[0], "run_id = 'r2026,plain,evil\n\x1b[2J'")
    assert complete("runbook rollback r") == [ids[1]]


def _set(run_id: str, assignment: str) -> None:
    """Change a recorded run by hand, as someone with the ledger file could."""
    conn = sqlite3.connect(default_home() / LEDGER_FILE)
    with conn:
        conn.execute("PRAGMA foreign_keys = OFF")
        conn.execute(f"UPDATE runs SET {assignment} WHERE run_id = ?", (run_id,))
    conn.close()


def _status(run_id: str) -> str:
    conn = sqlite3.connect(default_home() / LEDGER_FILE)
    try:
        row = conn.execute("SELECT status FROM runs WHERE run_id = ?", (run_id,)).fetchone()
    finally:
        conn.close()
    return str(row[0])


def open_incidents(count: int) -> list[str]:
    """`count` incidents opened by hand in the test's ledger; their ids, oldest first."""
    with Ledger.open() as ledger:
        return [ledger.open_incident(f"outage {n}", "alice") for n in range(count)]


@pytest.mark.parametrize("verb", ["incident note", "incident set", "incident resolve"])
def test_incident_commands_complete_incident_ids_newest_first(verb: str) -> None:
    ids = open_incidents(3)
    assert complete(f"runbook {verb} ") == ids[::-1]
    assert complete(f"runbook {verb} {ids[1]}") == [ids[1]]
    assert complete(f"runbook {verb} r2026") == []


def test_attach_completes_an_incident_then_a_run_and_postmortem_both() -> None:
    incidents = open_incidents(2)
    runs = record_runs(2)
    assert complete("runbook incident attach ") == incidents[::-1]
    assert complete(f"runbook incident attach {incidents[0]} ") == runs[::-1]
    assert complete("runbook postmortem ") == [*runs[::-1], *incidents[::-1]]
    assert complete("runbook postmortem i") == incidents[::-1]
    assert complete("runbook regress i") == incidents[::-1]
    assert complete("runbook show i") == incidents[::-1]
