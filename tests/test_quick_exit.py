"""The console script ends with `os._exit` after doing what a normal exit does that
matters: each case runs in a fresh interpreter, as `runbook` does."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def end_with(body: str, code: str) -> subprocess.CompletedProcess[str]:
    ending = f"from engine.quick_exit import quick_exit\nquick_exit({code})\n"
    script = f"import atexit, sys, threading, time\n{body}\n{ending}"
    return subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True, text=True, timeout=30, check=False, cwd=ROOT,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("code", "status", "stderr"),
    [
        ("None", 0, ""),
        ("0", 0, ""),
        ("4", 4, ""),
        ("130", 130, ""),
        ("'bad input'", 1, "bad input\n"),
    ],
)
def test_the_status_follows_the_rules_of_system_exit(code: str, status: int, stderr: str) -> None:
    done = end_with("", code)

    assert (done.returncode, done.stderr) == (status, stderr)


def test_buffered_output_and_atexit_handlers_are_not_lost() -> None:
    body = (
        "atexit.register(lambda: print('atexit ran', file=sys.stderr))\n"
        "sys.stdout.write('x' * 200_000)  # buffered, no newline: only a flush writes it\n"
        "sys.stderr.write('partial line')\n"
    )
    done = end_with(body, "3")

    assert done.returncode == 3
    assert done.stdout == "x" * 200_000
    assert done.stderr == "partial lineatexit ran\n"


def test_a_thread_still_working_is_waited_for_as_python_would() -> None:
    body = (
        "def work():\n"
        "    time.sleep(0.3)\n"
        "    print('thread finished', flush=True)\n"
        "threading.Thread(target=work).start()\n"
    )
    done = end_with(body, "5")

    assert (done.returncode, done.stdout) == (5, "thread finished\n")


def test_the_interpreter_is_not_torn_down_and_a_daemon_thread_does_not_hold_it() -> None:
    # A normal exit clears the module's globals at shutdown, which runs this finalizer.
    body = (
        "class Finalized:\n"
        "    def __del__(self):\n"
        "        print('torn down', flush=True)\n"
        "kept = Finalized()\n"
        "threading.Thread(target=time.sleep, args=(30,), daemon=True).start()\n"
    )
    done = end_with(body, "0")  # the 30 s timeout of `end_with` would fail this

    assert (done.returncode, done.stdout) == (0, "")


def test_the_console_script_keeps_its_exit_codes_and_output(tmp_path: Path) -> None:
    schema = subprocess.run(
        [sys.executable, "-m", "engine", "schema"],
        capture_output=True, text=True, timeout=60, check=False, cwd=ROOT,
    )  # fmt: skip
    missing = subprocess.run(
        [sys.executable, "-m", "engine", "validate", str(tmp_path / "none.yaml")],
        capture_output=True, text=True, timeout=60, check=False, cwd=ROOT,
    )  # fmt: skip

    assert schema.returncode == 0
    assert schema.stdout == (ROOT / "schema" / "playbook.v1.json").read_text()
    assert missing.returncode == 2 and "none.yaml" in missing.stderr
