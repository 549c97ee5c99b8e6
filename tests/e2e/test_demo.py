"""`runbook demo` — the README's first command — works on a machine with nothing but
Python and a POSIX shell: a rolled-back failure, then a clean run, exit 0."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def test_demo_shows_a_rollback_then_a_clean_run(tmp_path: Path) -> None:
    env = {**os.environ, "RUNBOOK_HOME": str(tmp_path / "home"), "HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "engine", "demo"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    # each undo says `↶ undo X …` as it starts and `↶ undo X: outcome` when it ends
    undos = [line for line in done.stdout.splitlines() if "undo " in line and ": " in line]
    assert [line.split("undo ")[1].split(":")[0] for line in undos] == [
        "ship_rotated_logs",
        "open_incident_note",
    ]
    runs = subprocess.run(
        [sys.executable, "-m", "engine", "runs", "--output", "json"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    outcomes = [run["status"] for run in json.loads(runs.stdout)]
    assert outcomes == ["recovered", "failed", "completed"]  # newest first; last: the fault
    assert "expand_disk skipped" in done.stdout  # stopped the moment the SLI recovered
