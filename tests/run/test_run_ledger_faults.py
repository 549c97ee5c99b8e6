"""A ledger that cannot record (its disk is full) stops the run before the next side
effect; the completed steps are still undone; what could not be recorded is recorded
once there is room again, or shown on stderr with exit 4 when there never is. A ledger
that cannot be read back (damaged) runs no step that it could not roll back."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from run_fixtures import (
    current_env,
    lines,
    playbook,
    run_env,  # noqa: F401  (autouse fixture)
    run_id_of,
    runbook,
)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs for the ledger: a step can fill it at once."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        if os.environ.get("CI") == "true":
            raise RuntimeError(f"CI needs root to mount a tmpfs: {done.stderr.strip()}")
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def _run(disk: Path, free: str) -> subprocess.CompletedProcess[str]:
    env = current_env()
    return runbook(
        "run",
        playbook(f"ledger-disk-full-{free}.yaml"),
        "-i",
        f"dir={env.work}",
        "-i",
        f"fill={disk}/fill",
        extra_env={"RUNBOOK_HOME": str(disk / "home")},
    )


def test_a_full_disk_stops_the_run_undoes_and_records_once_there_is_room(
    small_disk: Path,
) -> None:
    env = current_env()
    ran = _run(small_disk, "yes")

    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert "Traceback" not in ran.stderr
    assert lines(env.work / "done") == ["s1"]  # s3 never ran: its intent was not recorded
    assert lines(env.work / "undone") == ["fill", "s1"]
    shown = runbook("show", run_id_of(ran.stdout), "--output", "json",
                    extra_env={"RUNBOOK_HOME": str(small_disk / "home")})  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    document = json.loads(shown.stdout)
    assert document["run"]["status"] == "failed"
    results = [(e["step_id"], e["data"]["status"]) for e in document["events"]
               if e["kind"] in ("step_result", "undo_result")]  # fmt: skip
    assert results == [("s1", "succeeded"), ("fill", "succeeded"),
                       ("fill", "succeeded"), ("s1", "succeeded")]  # fmt: skip
    assert "the ledger cannot record" in document["run"]["summary"]["message"]
    skipped = [(e["step_id"], e["data"]["reason"]) for e in document["events"]
               if e["kind"] == "step_skipped"]  # fmt: skip
    assert skipped == [("s3", "the ledger cannot record its intent")]
    assert "s3" not in [e["step_id"] for e in document["events"] if e["kind"] == "step_intent"]


def test_a_disk_that_stays_full_undoes_and_says_what_was_not_recorded(
    small_disk: Path,
) -> None:
    env = current_env()
    ran = _run(small_disk, "no")

    assert ran.returncode == 4, ran.stdout + ran.stderr
    assert "Traceback" not in ran.stderr
    assert lines(env.work / "done") == ["s1"]
    assert lines(env.work / "undone") == ["fill", "s1"]
    assert "could not record" in ran.stderr
    assert "do not roll it back" in ran.stderr
    unrecorded = [json.loads(line) for line in ran.stderr.splitlines() if line.startswith("{")]
    assert [e["kind"] for e in unrecorded][-1] == "run_finished"
    assert ("fill", "step_result") in [(e["step"], e["kind"]) for e in unrecorded]


def _damage_index(ledger: Path, index: str) -> None:
    """Overwrite the cell pointers of `index`'s root page: reading it fails (malformed)."""
    with sqlite3.connect(ledger) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        (root,) = conn.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = ?", (index,)
        ).fetchone()
        (page_size,) = conn.execute("PRAGMA page_size").fetchone()
    with open(ledger, "r+b") as file:
        file.seek((root - 1) * page_size + 8)
        file.write(b"\xde\xad\xbe\xef" * 4)


def test_a_damaged_ledger_refuses_a_run_it_could_not_roll_back() -> None:
    env = current_env()
    for _ in range(3):
        assert runbook("run", playbook("all-good.yaml"), "-i", f"dir={env.work}").returncode == 0
    _damage_index(env.ledger, "runs_by_start")
    (env.work / "done").unlink()

    ran = runbook("run", playbook("all-good.yaml"), "-i", f"dir={env.work}")

    assert ran.returncode == 5, ran.stdout + ran.stderr
    assert "the ledger cannot be read back" in ran.stdout
    assert not (env.work / "done").exists()  # no step ran
    listed = runbook("runs")
    assert listed.returncode == 2
    assert "is damaged" in listed.stderr and ".recover" in listed.stderr
