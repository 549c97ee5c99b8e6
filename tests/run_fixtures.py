"""Shared fixtures and helpers for the `tests/run/test_run_*.py` tests.

Every test runs the real engine: `sys.executable -m engine …` as a subprocess (or
`engine.modes.run.run_playbook`), with RUNBOOK_HOME and HOME in a temporary folder so
that no test ever touches the user's ledger, ~/.kube or ~/.ssh.

Import the autouse fixture into a test module to activate it, and get this test's
folders with `current_env()`:

    from run_fixtures import current_env, run_env  # noqa: F401
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
PLAYBOOKS = Path(__file__).resolve().parent / "playbooks" / "run"
OPERATOR = "test-operator"
RUN_ID = re.compile(r"run id: (r[0-9T]+-[a-z0-9]+)")


@dataclass
class Env:
    """Where this test's engine keeps its state, and the environment it runs with."""

    home: Path  # RUNBOOK_HOME
    work: Path  # a scratch folder for side-effect files

    @property
    def ledger(self) -> Path:
        return self.home / "ledger.sqlite3"


_current: list[Env] = []
_process_groups: list[int] = []
_children: list[Any] = []  # engines a test started (Popen or pexpect), stopped afterwards


@pytest.fixture(autouse=True)
def run_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    """RUNBOOK_HOME and HOME in tmp_path; plain (non-live) output; a fixed operator name.
    Process groups registered with `kill_group_after_test` are SIGKILLed afterwards."""
    home = tmp_path / "runbook-home"
    user_home = tmp_path / "user-home"
    work = tmp_path / "work"
    for folder in (user_home, work):
        folder.mkdir()
    monkeypatch.setenv("RUNBOOK_HOME", str(home))
    monkeypatch.setenv("HOME", str(user_home))
    monkeypatch.setenv("XDG_STATE_HOME", str(user_home / ".local" / "state"))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("RUNBOOK_PLAIN", "1")
    monkeypatch.setenv("RUNBOOK_OPERATOR", OPERATOR)
    monkeypatch.delenv("CANARY_TOKEN", raising=False)
    monkeypatch.setenv("PYTHONPATH", _pythonpath())
    env = Env(home, work)
    _current[:] = [env]
    yield env
    _current.clear()
    while _children:
        _stop(_children.pop())
    while _process_groups:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(_process_groups.pop(), signal.SIGKILL)


def _stop(child: Any) -> None:
    """Kill an engine the test left running (a failed test), and reap it."""
    if isinstance(child, subprocess.Popen):
        if child.poll() is None:
            child.kill()
        child.wait(timeout=10)
        for stream in (child.stdout, child.stderr, child.stdin):
            if stream is not None:
                stream.close()
    elif not child.closed:
        child.close(force=True)


def start_engine(*args: str) -> subprocess.Popen[str]:
    """The CLI in the background without a terminal; stopped after the test if still alive."""
    engine = subprocess.Popen(
        engine_command(*args),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    _children.append(engine)
    return engine


def current_env() -> Env:
    """The Env of the running test (set up by the autouse `run_env` fixture)."""
    assert _current, "import run_fixtures.run_env into the test module"
    return _current[0]


def kill_group_after_test(pgid: int) -> None:
    """A process group this test caused (e.g. a step orphaned by a SIGKILLed engine)."""
    _process_groups.append(pgid)


def _pythonpath() -> str:
    existing = os.environ.get("PYTHONPATH")
    return f"{REPO}{os.pathsep}{existing}" if existing else str(REPO)


def playbook(name: str) -> str:
    """The path of a helper playbook under tests/playbooks/run/."""
    path = PLAYBOOKS / name
    assert path.is_file(), path
    return str(path)


def engine_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "engine", *args]


def runbook(
    *args: str,
    timeout: float = 60,
    extra_env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the CLI without a terminal (stdin is /dev/null) and capture its output."""
    return subprocess.run(
        engine_command(*args),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(extra_env or {})},
        cwd=cwd,
        check=False,
    )


def run_id_of(output: str) -> str:
    """The run id the CLI printed (`run id: …`)."""
    found = RUN_ID.findall(output)
    assert found, f"no run id in output:\n{output}"
    return found[-1]


def show_json(run_id: str) -> dict[str, Any]:
    """`runbook show RUN_ID --output json`, parsed."""
    shown = runbook("show", run_id, "--output", "json")
    assert shown.returncode == 0, shown.stderr
    data: dict[str, Any] = json.loads(shown.stdout)
    return data


def events(run_id: str, kind: str | None = None) -> list[dict[str, Any]]:
    """The run's ledger events (from the CLI), optionally of one kind."""
    rows: list[dict[str, Any]] = show_json(run_id)["events"]
    return [row for row in rows if kind is None or row["kind"] == kind]


def runs_json() -> list[dict[str, Any]]:
    listed = runbook("runs", "--output", "json")
    assert listed.returncode == 0, listed.stderr
    rows: list[dict[str, Any]] = json.loads(listed.stdout)
    return rows


def lines(path: Path) -> list[str]:
    """The lines of a side-effect file, [] when it does not exist."""
    return path.read_text().split() if path.exists() else []


def ledger_bytes(env: Env) -> bytes:
    """The raw bytes of the ledger and its WAL / shared-memory files."""
    parts = [env.ledger, env.home / "ledger.sqlite3-wal", env.home / "ledger.sqlite3-shm"]
    return b"".join(p.read_bytes() for p in parts if p.exists())


def integrity(env: Env) -> str:
    conn = sqlite3.connect(env.ledger)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def unique_marker() -> str:
    """A `sleep` argument no other process on this machine uses: 100.<random digits>."""
    return f"100.{uuid.uuid4().int % 10**9:09d}"


def processes_matching(marker: str) -> list[str]:
    """Processes whose command line contains `marker` (pgrep itself excluded; the engine
    matches too while it runs, since the marker is one of its `-i` arguments)."""
    found = subprocess.run(
        ["pgrep", "-af", re.escape(marker)], capture_output=True, text=True, check=False
    )
    return [line for line in found.stdout.splitlines() if "pgrep" not in line]


def sleepers(marker: str) -> list[str]:
    """The `sleep <marker>` processes among them."""
    return [line for line in processes_matching(marker) if f"sleep {marker}" in line]


def wait_for(predicate: Callable[[], bool], timeout: float = 15.0, what: str = "") -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what or predicate}")


def spawn_terminal(*args: str, timeout: float = 20, size: tuple[int, int] = (60, 200)) -> Any:
    """The CLI at a pseudo-terminal (pexpect) of `size` (rows, columns), so the engine
    sees a human."""
    import pexpect

    child = pexpect.spawn(
        sys.executable,
        ["-m", "engine", *args],
        env={**os.environ},
        encoding="utf-8",
        timeout=timeout,
        dimensions=size,
    )
    _children.append(child)
    return child


def finish_terminal(child: Any, timeout: float = 20) -> int:
    """Wait for the spawned CLI to exit; its exit status."""
    import pexpect

    child.expect(pexpect.EOF, timeout=timeout)
    child.close()
    status = child.exitstatus if child.exitstatus is not None else -(child.signalstatus or 0)
    return int(status)


_STEPS_ONLY = """\
apiVersion: runbook/v1
kind: Playbook
metadata: {{name: {name}, version: 1.0.0, maturity: 2, owner: tests}}
inputs:
  dir: {{type: string}}
steps:
"""


def steps_playbook(folder: Path, name: str, steps: str) -> str:
    """A playbook `folder/name.yaml` (named `name`) whose only input is `dir` and whose
    steps are `steps`: a YAML list, dedented here."""
    path = folder / f"{name}.yaml"
    body = textwrap.indent(textwrap.dedent(steps), "  ")
    path.write_text(_STEPS_ONLY.format(name=name) + body)
    return str(path)
