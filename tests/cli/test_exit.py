"""How the `runbook` console script ends: its exit codes and output, and a closed pipe
on stdout ends it quietly (no traceback from Python's last flush). Each case runs in a
fresh interpreter, as `runbook` does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tree import REPO

ROOT = REPO
ENGINE = [sys.executable, "-m", "engine"]
# stdout buffered as by default: a write to a pipe waits for a flush.
BUFFERED = {name: value for name, value in os.environ.items() if name != "PYTHONUNBUFFERED"}


def test_the_console_script_keeps_its_exit_codes_and_output(tmp_path: Path) -> None:
    schema = subprocess.run(
        [*ENGINE, "schema"],
        capture_output=True, text=True, timeout=60, check=False, cwd=ROOT,
    )  # fmt: skip
    missing = subprocess.run(
        [*ENGINE, "validate", str(tmp_path / "none.yaml")],
        capture_output=True, text=True, timeout=60, check=False, cwd=ROOT,
    )  # fmt: skip

    assert schema.returncode == 0
    assert schema.stdout == (ROOT / "schema" / "playbook.v1.json").read_text()
    assert missing.returncode == 2 and "none.yaml" in missing.stderr


def into_closed_pipe(argv: list[str]) -> subprocess.CompletedProcess[str]:
    """Run `python argv` with stdout a pipe nobody reads any more (`… | head -0`)."""
    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run(
            [sys.executable, *argv],
            stdout=write, stderr=subprocess.PIPE, text=True, timeout=60, check=False, cwd=ROOT,
            env=BUFFERED,
        )  # fmt: skip
    finally:
        os.close(write)


def test_a_closed_pipe_on_stdout_ends_the_command_without_a_traceback() -> None:
    done = into_closed_pipe(["-m", "engine", "schema"])  # fails at its first write

    assert (done.returncode, done.stderr) == (1, "")


def test_output_still_buffered_at_exit_into_a_closed_pipe_is_dropped_quietly() -> None:
    # The flush at exit fails: Python itself would print a traceback of it and exit 120.
    script = (
        "import sys\n"
        "sys.stdout.write('a line still buffered')\n"
        "sys.argv = ['runbook', 'validate', 'missing.yaml']\n"
        "from engine.cli.main import main\n"
        "main()\n"
    )
    done = into_closed_pipe(["-c", script])

    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and "missing.yaml" in done.stderr
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr
