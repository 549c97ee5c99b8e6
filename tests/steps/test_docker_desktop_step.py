"""The `docker_desktop` step type through the REAL docker CLI, talking to a fake Engine
API on a unix socket, with a fake `docker desktop` plugin (tests/fakes/): status,
start/stop/restart under our deadline, engine_ping, context_use and prune, asserted on
what the fakes recorded."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

from localstack_fixtures import DOCKER, LocalStack, engine_requests
from localstack_helpers import apply_step, plan_step, process_gone, undo_step, write_playbook
from sli_helpers import events, run_cli, run_id_of

from engine.core.results import Status


def _desktop(stack: LocalStack) -> str:
    return str(stack.state()["desktop"]["status"])


def test_status_and_engine_ping_while_running(fake_docker: LocalStack) -> None:
    status = apply_step("docker_desktop", {"action": "status", "capture": "s"})
    assert status.ok and status.value == {"status": "running", "running": True}
    ping = apply_step("docker_desktop", {"action": "engine_ping"})
    assert ping.ok and ping.value["server_version"] == "27.4.0"
    assert fake_docker.calls("docker-desktop") == [["status", "--format", "json"]]
    assert [r["path"] for r in engine_requests(fake_docker)][-2:] == ["_ping", "info"]


def test_engine_ping_names_the_real_cli_error_when_desktop_is_stopped(
    fake_docker: LocalStack,
) -> None:
    assert apply_step("docker_desktop", {"action": "stop"}).ok
    assert _desktop(fake_docker) == "stopped"
    ping = apply_step("docker_desktop", {"action": "engine_ping"})
    assert ping.status is Status.FAILED and ping.exit_code == 1
    assert "`docker info --format '{{json .}}'` exited 1" in ping.message
    assert "Cannot connect to the Docker daemon" in ping.message
    assert apply_step("docker_desktop", {"action": "status"}).value["running"] is False


def test_a_hung_engine_fails_engine_ping_at_the_deadline(fake_docker: LocalStack) -> None:
    fake_docker.update(lambda s: s["engine"].__setitem__("hang", True))
    started = time.monotonic()
    ping = apply_step("docker_desktop", {"action": "engine_ping"}, timeout=1.5)
    took = time.monotonic() - started
    fake_docker.update(lambda s: s["engine"].__setitem__("hang", False))
    assert ping.status is Status.TIMED_OUT and took < 5
    assert "did not finish within 2s" in ping.message or "did not finish within 1s" in ping.message
    assert "outcome is unknown" in ping.message
    assert engine_requests(fake_docker)[-1]["path"] == "_ping"  # it got there, never answered


def test_docker_desktop_restart_that_hangs_is_killed_at_our_deadline(
    fake_docker: LocalStack,
) -> None:
    fake_docker.script("docker-desktop", ["restart"], sleep=120, rc=0)
    started = time.monotonic()
    result = apply_step("docker_desktop", {"action": "restart"}, timeout=1.5)
    assert time.monotonic() - started < 6
    assert result.status is Status.TIMED_OUT
    assert "`docker desktop restart` did not finish" in result.message
    hung = [r for r in fake_docker.records("docker-desktop") if r["phase"] == "start"][-1]
    assert hung["argv"] == ["restart"] and process_gone(hung["pid"])


def test_stop_and_start_undo_each_other_only_when_they_changed_something(
    fake_docker: LocalStack,
) -> None:
    stopped = apply_step("docker_desktop", {"action": "stop"})
    assert stopped.ok and stopped.captured == {"was_running": True, "status_before": "running"}
    assert undo_step("docker_desktop", {"action": "stop"}, dict(stopped.captured)).ok
    assert _desktop(fake_docker) == "running"
    started = apply_step("docker_desktop", {"action": "start"})
    assert started.ok and started.changed is False
    before = len(fake_docker.calls("docker-desktop"))
    undone = undo_step("docker_desktop", {"action": "start"}, dict(started.captured))
    assert undone.ok and "already in that state" in undone.message
    assert len(fake_docker.calls("docker-desktop")) == before
    assert _desktop(fake_docker) == "running"
    assert subprocess.run([DOCKER, "ps"], capture_output=True).returncode == 0


def test_context_use_switches_and_its_undo_switches_back(fake_docker: LocalStack) -> None:
    made = subprocess.run(
        [DOCKER, "context", "create", "remote", "--docker", "host=tcp://192.0.2.1:2375"],
        capture_output=True,
        text=True,
    )
    assert made.returncode == 0, made.stderr
    body = {"action": "context_use", "context": "{{ inputs.ctx }}"}
    result = apply_step("docker_desktop", body, inputs={"ctx": "remote"})
    assert result.ok and result.captured == {"previous": "desktop-linux", "switched": True}
    assert _current_context() == "remote"
    assert undo_step(
        "docker_desktop", {"action": "context_use", "context": "remote"}, dict(result.captured)
    ).ok
    assert _current_context() == "desktop-linux"


def _current_context() -> str:
    return subprocess.run(
        [DOCKER, "context", "show"], capture_output=True, text=True
    ).stdout.strip()


def test_context_use_to_a_context_that_does_not_exist_fails_and_changes_nothing(
    fake_docker: LocalStack,
) -> None:
    result = apply_step("docker_desktop", {"action": "context_use", "context": "nope"})
    assert result.status is Status.FAILED and "`docker context use nope` exited 1" in result.message
    assert _current_context() == "desktop-linux"
    refused = apply_step(
        "docker_desktop",
        {"action": "context_use", "context": "{{ inputs.c }}"},
        inputs={"c": "--help"},
    )
    assert refused.status is Status.FAILED and "not a docker context name" in refused.message


def test_prune_calls_the_engines_prune_endpoints(fake_docker: LocalStack) -> None:
    assert apply_step("docker_desktop", {"action": "prune"}).ok
    pruned = fake_docker.state()["engine"]["pruned"]
    assert pruned == ["containers", "networks", "images", "build"]


def test_plan_renders_argv_and_calls_nothing(fake_docker: LocalStack) -> None:
    before = len(engine_requests(fake_docker))
    assert plan_step("docker_desktop", {"action": "restart"}).command == "docker desktop restart"
    ping = plan_step("docker_desktop", {"action": "engine_ping"})
    assert ping.command == "docker info --format '{{json .}}'" and ping.readonly
    ctx = plan_step(
        "docker_desktop",
        {"action": "context_use", "context": "{{ inputs.c }}"},
        inputs={"c": "desktop-linux"},
    )
    assert ctx.command == "docker context use desktop-linux"
    assert fake_docker.calls("docker-desktop", phase="start") == []
    assert len(engine_requests(fake_docker)) == before


def _run(path: Path) -> tuple[int, str, list[dict[str, Any]]]:
    done = run_cli("run", str(path), "--yes")
    return done.returncode, done.stdout + done.stderr, events(run_id_of(done.stdout))


def test_start_fails_twice_then_works_with_retry(fake_docker: LocalStack, tmp_path: Path) -> None:
    assert apply_step("docker_desktop", {"action": "stop"}).ok
    fake_docker.script(
        "docker-desktop",
        ["start"],
        rc=1,
        times=2,
        stderr="Error: starting Docker Desktop: backend did not respond\n",
    )
    path = write_playbook(
        tmp_path,
        """\
  - id: start
    docker_desktop: {action: start}
    retry: {attempts: 3, backoff: 100ms, max_backoff: 100ms, jitter: false}
    timeout: 30s
  - id: ping
    docker_desktop: {action: engine_ping}
    timeout: 10s
""",
    )
    code, output, run_events = _run(path)
    assert code == 0, output
    starts = [argv for argv in fake_docker.calls("docker-desktop") if argv == ["start"]]
    assert len(starts) == 3
    retries = [e["data"]["message"] for e in run_events if e["kind"] == "step_retry"]
    assert len(retries) == 2 and all("backend did not respond" in m for m in retries)
    assert _desktop(fake_docker) == "running"


def test_a_failed_run_undoes_context_use_and_stop(fake_docker: LocalStack, tmp_path: Path) -> None:
    subprocess.run(
        [DOCKER, "context", "create", "colima", "--docker", "host=unix:///nonexistent.sock"],
        capture_output=True,
        check=True,
    )
    path = write_playbook(
        tmp_path,
        """\
  - id: use_colima
    docker_desktop: {action: context_use, context: colima}
    timeout: 10s
  - id: stop
    docker_desktop: {action: stop}
    timeout: 30s
  - id: broken
    shell: {run: [sh, -c, "exit 4"]}
    irreversible: test
""",
    )
    code, output, run_events = _run(path)
    assert code == 1, output
    undone = [e["step_id"] for e in run_events if e["kind"] == "undo_result"]
    assert undone == ["stop", "use_colima"]
    assert _desktop(fake_docker) == "running"
    assert _current_context() == "desktop-linux"
    assert fake_docker.calls("docker-desktop")[-1] == ["start"]
