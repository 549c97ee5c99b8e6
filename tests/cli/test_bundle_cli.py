"""`runbook export` and `runbook replay` on the command line: usage errors exit 2 with
one line and a hint, no traceback, nothing written."""

from __future__ import annotations

import os
from pathlib import Path

from sli_helpers import run_cli


def test_export_needs_a_file_to_write(tmp_path: Path) -> None:
    done = run_cli("export", "r20261207T000000000-abcdef")
    assert done.returncode == 2 and "--output" in done.stderr


def test_export_into_a_missing_folder_writes_nothing(tmp_path: Path) -> None:
    target = tmp_path / "no" / "such" / "run.tar.gz"
    done = run_cli("export", "r20261207T000000000-abcdef", "-o", str(target))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"cannot write {target}: there is no folder" in done.stderr
    assert not target.parent.exists()


def test_replay_of_a_missing_file_or_a_fifo_is_a_usage_error(tmp_path: Path) -> None:
    done = run_cli("replay", str(tmp_path / "none.tar.gz"))
    assert done.returncode == 2 and "no such file" in done.stderr
    assert "hint:" in done.stderr and "Traceback" not in done.stderr
    fifo = tmp_path / "fifo.tar.gz"
    os.mkfifo(fifo)
    done = run_cli("replay", str(fifo), timeout=10)
    assert done.returncode == 2 and "not a regular file" in done.stderr


def test_the_help_tells_the_exit_codes() -> None:
    replay = " ".join(run_cli("replay", "--help").stdout.split())
    assert "Exit 0 when nothing differs, 1 when something does, 2 for a usage" in replay
    assert "Exit 0 written; 2 for an unknown run" in " ".join(
        run_cli("export", "--help").stdout.split()
    )
