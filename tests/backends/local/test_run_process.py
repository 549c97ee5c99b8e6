"""Deadlines, signals and retries: a timed-out step dies with its whole process group, a
signal after a command ended leaves its exit status the outcome, retry delays grow
exponentially up to `max_backoff` (with jitter inside [d/2, d]), and a step gets no
descriptor the engine inherited."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from components import require_binary
from run_fixtures import (
    current_env,
    engine_command,
    events,
    lines,
    playbook,
    processes_matching,
    run_env,  # noqa: F401  (autouse fixture)
    run_id_of,
    runbook,
    unique_marker,
    wait_for,
)


def test_a_timed_out_step_ends_in_time_and_leaves_no_process_behind() -> None:
    env = current_env()
    marker = unique_marker()
    began = time.monotonic()

    ran = runbook(
        "run", playbook("timeout.yaml"), "-i", f"dir={env.work}", "-i", f"marker={marker}"
    )

    took = time.monotonic() - began
    assert ran.returncode == 1, ran.stdout + ran.stderr
    run_id = run_id_of(ran.stdout)
    result = next(e for e in events(run_id, "step_result") if e["step_id"] == "hang")
    assert result["data"]["status"] == "timed_out"
    assert result["data"]["exit_code"] is None
    assert result["data"]["duration"] < 3.0
    assert took < 6.0  # interpreter start-up, 1s deadline, kill, rollback
    assert processes_matching(marker) == []
    # A timed-out step's outcome is unknown: its undo is not run (no undo_if_interrupted),
    # the step before it is undone.
    assert lines(env.work / "undone") == ["before"]
    assert "timed_out" in ran.stdout


def test_a_step_that_ignores_sigterm_is_killed_with_sigkill() -> None:
    marker = unique_marker()

    ran = runbook("run", playbook("timeout-stubborn.yaml"), "-i", f"marker={marker}")

    assert ran.returncode == 1, ran.stdout + ran.stderr
    run_id = run_id_of(ran.stdout)
    result = events(run_id, "step_result")[0]["data"]
    assert result["status"] == "timed_out"
    # 1s deadline + 2s grace after SIGTERM, then SIGKILL.
    assert result["duration"] < 4.5
    wait_for(lambda: processes_matching(marker) == [], timeout=2, what="the group to be gone")


def _retries(run_id: str) -> list[dict[str, object]]:
    return [e["data"] for e in events(run_id, "step_retry")]


def test_retries_until_attempts_run_out_with_exponential_capped_backoff() -> None:
    env = current_env()

    ran = runbook("run", playbook("retry.yaml"), "-i", f"dir={env.work}", "-i", "succeed_at=99")

    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert lines(env.work / "count") == ["5"]  # attempts: 5, each one ran
    run_id = run_id_of(ran.stdout)
    retries = _retries(run_id)
    assert [r["attempt"] for r in retries] == [1, 2, 3, 4]
    # backoff 100ms doubling, capped by max_backoff 300ms; no jitter.
    assert [r["delay"] for r in retries] == [0.1, 0.2, 0.3, 0.3]
    assert {r["status"] for r in retries} == {"failed"}
    result = events(run_id, "step_result")[0]["data"]
    assert result["attempts"] == 5
    assert result["status"] == "failed"
    assert result["duration"] >= 0.9  # the engine really waited the delays


def test_retries_stop_at_the_first_success() -> None:
    env = current_env()

    ran = runbook("run", playbook("retry.yaml"), "-i", f"dir={env.work}", "-i", "succeed_at=3")

    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert lines(env.work / "count") == ["3"]
    run_id = run_id_of(ran.stdout)
    assert [r["delay"] for r in _retries(run_id)] == [0.1, 0.2]
    result = events(run_id, "step_result")[0]["data"]
    assert (result["status"], result["attempts"]) == ("succeeded", 3)


def test_jittered_delays_stay_between_half_and_all_of_the_capped_backoff() -> None:
    ran = runbook("run", playbook("retry-jitter.yaml"))

    assert ran.returncode == 1, ran.stdout + ran.stderr
    delays = [float(str(r["delay"])) for r in _retries(run_id_of(ran.stdout))]
    nominal = [0.1, 0.2, 0.4, 0.4, 0.4, 0.4]  # backoff 100ms doubling, max_backoff 400ms
    assert len(delays) == len(nominal)
    for delay, cap in zip(delays, nominal, strict=True):
        assert cap / 2 - 0.001 <= delay <= cap + 0.001, (delay, cap)
    assert delays != nominal  # the jitter is applied


def test_a_utf8_character_split_across_two_reads_stays_whole(tmp_path: Path) -> None:
    split = tmp_path / "split.yaml"
    split.write_text(
        """\
apiVersion: runbook/v1
kind: Playbook
metadata: {name: run-split-utf8, version: 1.0.0, maturity: 2, owner: tests}
steps:
  - id: split
    readonly: true
    shell:
      run:
        - python3
        - -c
        - |
          import sys, time
          for _ in range(3):
              sys.stdout.buffer.write(b"\\xc3"); sys.stdout.flush(); time.sleep(0.15)
              sys.stdout.buffer.write(b"\\xa9\\n"); sys.stdout.flush()
"""
    )

    ran = runbook("run", str(split))

    assert ran.returncode == 0, ran.stdout + ran.stderr
    output = events(run_id_of(ran.stdout), "step_result")[0]["data"]["output"]
    assert output == "é\né\né\n"
    assert "\ufffd" not in ran.stdout


def test_a_signal_after_the_command_ended_keeps_the_step_succeeded_and_undoes_it() -> None:
    env = current_env()
    ran = runbook("run", playbook("signal-after-exit.yaml"), "-i", f"dir={env.work}")
    assert ran.returncode == 130, ran.stdout + ran.stderr
    result = next(e for e in events(run_id_of(ran.stdout), "step_result"))
    assert (result["step_id"], result["data"]["status"]) == ("one", "succeeded")
    assert lines(env.work / "undone") == ["one"]


# Where /proc is missing (macOS, or here a mount namespace with an empty tmpfs over it),
# nothing can list the engine's descriptors there: they must be closed all the same.
PROC_HIDDEN = 'mount -t tmpfs runbook-no-proc /proc && exec "$@"'


def _launcher(proc: str) -> list[str]:
    if proc == "with /proc":
        return []
    unshare = require_binary("unshare", "util-linux")
    if os.geteuid() != 0:
        pytest.skip("a mount namespace and a tmpfs over /proc need root")
    return [unshare, "--mount", "--propagation", "private", "--",
            "/bin/sh", "-c", PROC_HIDDEN, "sh"]  # fmt: skip


@pytest.mark.parametrize("proc", ["with /proc", "without /proc"])
def test_a_descriptor_the_engine_inherited_does_not_reach_a_step(proc: str) -> None:
    # An engine started with an extra, inheritable descriptor (as a shell's `3>file` or a
    # job server gives one): its steps must not get it.
    work = current_env().work
    read, write = os.pipe()
    argv = engine_command(
        "run", playbook("inherited-fd.yaml"),
        "-i", f"dir={work}", "-i", f"fd={write}",
    )  # fmt: skip
    python_first = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    try:
        ran = subprocess.run(
            [*_launcher(proc), *argv],
            pass_fds=(write,), stdin=subprocess.DEVNULL, capture_output=True, text=True,
            env={**os.environ, "PATH": python_first}, timeout=60, check=False,
        )  # fmt: skip
    finally:
        os.close(read)
        os.close(write)

    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert lines(work / "seen") == ["closed"]
