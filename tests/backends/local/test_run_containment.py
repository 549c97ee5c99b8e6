"""A step's processes die with it: on a timeout, daemons that left its process group
(`setsid`) die too; when the engine itself is killed, `rollback` and `recover` kill
what the interrupted step left running before anything is undone. Both rest on a
cgroup per command (engine.backends.local.containment), which the machines of CI provide."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from run_fixtures import (
    current_env,
    kill_group_after_test,
    lines,
    playbook,
    run_env,  # noqa: F401  (autouse fixture)
    run_id_of,
    runbook,
    runs_json,
    sleepers,
    start_engine,
    unique_marker,
    wait_for,
)

from engine.backends.local.containment import Containment, cgroup_base

if cgroup_base() is None:
    if os.environ.get("CI") == "true":
        raise RuntimeError(
            "CI needs cgroup v2 that root may write (engine.backends.local.containment)"
        )
    pytest.skip("no writable cgroup v2 here", allow_module_level=True)


@pytest.fixture
def marker() -> Iterator[str]:
    mark = unique_marker()
    yield mark
    subprocess.run(["pkill", "-KILL", "-f", f"sleep {mark}"], check=False)


def test_a_timeout_kills_a_daemon_that_left_the_process_group(marker: str) -> None:
    ran = runbook("run", playbook("timeout-setsid.yaml"), "-i", f"marker={marker}")
    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert "timed_out" in ran.stdout
    wait_for(lambda: sleepers(marker) == [], timeout=5, what="the daemon to be gone")


def test_without_cgroups_a_timeout_still_kills_the_process_group(marker: str) -> None:
    env = current_env()
    ran = runbook(
        "run",
        playbook("timeout.yaml"),
        "-i",
        f"dir={env.work}",
        "-i",
        f"marker={marker}",
        extra_env={"RUNBOOK_CGROUPS": "off"},
    )
    assert ran.returncode == 1, ran.stdout + ran.stderr
    wait_for(lambda: sleepers(marker) == [], timeout=5, what="the step's sleeps to be gone")


def _kill_engine_during_s2(marker: str) -> str:
    env = current_env()
    engine = start_engine(
        "run", playbook("crash-late-change.yaml"), "-i", f"dir={env.work}", "-i", f"marker={marker}"
    )
    started = env.work / "started"
    wait_for(lambda: started.exists() and started.read_text().strip() != "", what="step s2")
    kill_group_after_test(int(started.read_text()))
    engine.send_signal(signal.SIGKILL)
    engine.communicate(timeout=10)
    (run,) = runs_json()
    return str(run["run_id"])


def test_rollback_kills_what_the_interrupted_step_left_before_undoing(marker: str) -> None:
    env = current_env()
    run_id = _kill_engine_during_s2(marker)
    began = time.monotonic()

    rolled = runbook("rollback", run_id, "--yes")

    assert rolled.returncode == 0, rolled.stdout + rolled.stderr
    assert f"processes run {run_id} left running" in rolled.stdout
    assert time.monotonic() - began < 3, "too slow to prove the daemon was stopped"
    assert sleepers(marker) == []
    assert lines(env.work / "undone") == ["s1"]
    time.sleep(3.5)  # when the daemon would have made its late change
    assert lines(env.work / "done") == ["s1"], "a change after the rollback"


def test_recover_kills_what_the_interrupted_step_left(marker: str) -> None:
    run_id = _kill_engine_during_s2(marker)
    assert sleepers(marker) != []

    recovered = runbook("recover")

    assert recovered.returncode == 0, recovered.stderr
    assert f"interrupted: {run_id}" in recovered.stdout
    assert "processes its steps left running" in recovered.stdout
    assert sleepers(marker) == []


def test_a_run_leaves_no_cgroup_behind() -> None:
    env = current_env()
    ran = runbook("run", playbook("all-good.yaml"), "-i", f"dir={env.work}")
    assert ran.returncode == 0, ran.stderr
    base = cgroup_base()
    assert base is not None
    assert not (base / run_id_of(ran.stdout)).exists()


def test_without_cgroups_commands_start_in_no_cell() -> None:
    containment = Containment("r1", None, None)
    started, cell = containment.start(lambda: "started")
    assert (started, cell.path) == ("started", None)


def test_a_cell_that_cannot_be_used_falls_back_and_leaves_nothing(tmp_path: Path) -> None:
    base = tmp_path / "not-a-cgroup"  # a plain folder: no cgroup.procs in it
    base.mkdir()
    containment = Containment("r1", base, base)
    started, cell = containment.start(lambda: "started")
    assert (started, cell.path, containment.usable) == ("started", None, False)
    assert containment.start(lambda: "again")[1].path is None  # process groups from now on
    containment.close()
    assert list(base.iterdir()) == []
