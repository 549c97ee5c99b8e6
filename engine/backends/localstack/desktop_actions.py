"""What each `docker_desktop` action does through the `docker` CLI, and its undo.

`docker desktop start|stop|restart` wait as long as Docker Desktop takes (restart
has no timeout of its own), so each runs under the step's deadline and is killed
with its process group when it passes. The file-based actions (`ensure_resources`,
`check_disk_image`) live in `desktop_files`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from engine.backends.localstack.cli import CliResult, Deadline, failure, refused, run_cli, succeeded
from engine.backends.localstack.desktop_files import check_disk_image, ensure_resources
from engine.backends.step_run import StepRun
from engine.core.results import StepResult

DOCKER = "docker"
Action = Callable[[Any, Mapping[str, Any], StepRun, Deadline], StepResult]


def desktop_argv(command: str) -> list[str]:
    if command == "status":
        return [DOCKER, "desktop", "status", "--format", "json"]
    return [DOCKER, "desktop", command]


PING_ARGV = [DOCKER, "info", "--format", "{{json .}}"]
CONTEXT_SHOW_ARGV = [DOCKER, "context", "show"]
PRUNE_ARGV = [DOCKER, "system", "prune", "--force"]


def context_use_argv(context: str) -> list[str]:
    return [DOCKER, "context", "use", context]


def parse_status(stdout: str) -> str:
    """`running`, `stopped`, … from `docker desktop status` (JSON, or its table)."""
    try:
        data = json.loads(stdout)
    except ValueError:
        data = None
    if isinstance(data, dict):
        for key, value in data.items():
            if key.lower() == "status":
                return str(value).lower()
    for line in stdout.splitlines():
        words = line.split()
        if len(words) >= 2 and words[0].lower() == "status":
            return words[1].lower()
    return "unknown"


def read_status(ctx: StepRun, deadline: Deadline) -> tuple[str, CliResult]:
    result = run_cli(desktop_argv("status"), ctx, deadline, read_only=True)
    return (parse_status(result.stdout) if result.ok else ""), result


def status(spec: Any, r: Mapping[str, Any], ctx: StepRun, deadline: Deadline) -> StepResult:
    state, result = read_status(ctx, deadline)
    if not result.ok:
        return failure(result, "reading Docker Desktop's status")
    value = {"status": state, "running": state == "running"}
    return succeeded(result, f"Docker Desktop is {state}", value=value)


def _switch(command: str, ctx: StepRun, deadline: Deadline) -> StepResult:
    """start or stop, with the state before captured for the undo."""
    state, before = read_status(ctx, deadline)
    if not before.ok:
        return failure(before, f"reading Docker Desktop's status before `{command}`")
    captured = {"was_running": state == "running", "status_before": state}
    result = run_cli(desktop_argv(command), ctx, deadline)
    if not result.ok:
        return failure(result, f"docker desktop {command}", captured)
    changed = (state == "running") != (command == "start")
    message = f"Docker Desktop {command} done (it was {state})"
    return succeeded(result, message, captured=captured, changed=changed)


def start(spec: Any, r: Mapping[str, Any], ctx: StepRun, deadline: Deadline) -> StepResult:
    return _switch("start", ctx, deadline)


def stop(spec: Any, r: Mapping[str, Any], ctx: StepRun, deadline: Deadline) -> StepResult:
    return _switch("stop", ctx, deadline)


def restart(spec: Any, r: Mapping[str, Any], ctx: StepRun, deadline: Deadline) -> StepResult:
    result = run_cli(desktop_argv("restart"), ctx, deadline)
    if not result.ok:
        return failure(result, "docker desktop restart")
    return succeeded(result, "Docker Desktop restarted", changed=True)


def engine_ping(spec: Any, r: Mapping[str, Any], ctx: StepRun, deadline: Deadline) -> StepResult:
    """The engine answers `docker info` before the deadline, with a server version."""
    result = run_cli(PING_ARGV, ctx, deadline, read_only=True)
    if not result.ok:
        return failure(result, "the Docker engine did not answer")
    try:
        info = json.loads(result.stdout)
    except ValueError:
        info = {}
    if not isinstance(info, dict) or not info.get("ServerVersion"):
        return failure(result, "`docker info` answered without a server version")
    value = {
        "server_version": info.get("ServerVersion"),
        "operating_system": info.get("OperatingSystem"),
        "cpus": info.get("NCPU"),
        "memory_bytes": info.get("MemTotal"),
        "containers_running": info.get("ContainersRunning"),
    }
    return succeeded(result, f"engine {value['server_version']} answered", value=value)


def current_context(ctx: StepRun, deadline: Deadline) -> tuple[str, CliResult]:
    result = run_cli(CONTEXT_SHOW_ARGV, ctx, deadline, read_only=True)
    return result.stdout.strip() if result.ok else "", result


def context_use(spec: Any, r: Mapping[str, Any], ctx: StepRun, deadline: Deadline) -> StepResult:
    wanted = str(r["context"])
    previous, shown = current_context(ctx, deadline)
    if not shown.ok or not previous:
        return failure(shown, "reading the current docker context")
    captured = {"previous": previous, "switched": previous != wanted}
    if previous == wanted:
        message = f"already on context {wanted!r}"
        return succeeded(None, message, captured=captured, value=captured, changed=False)
    result = run_cli(context_use_argv(wanted), ctx, deadline)
    if not result.ok:
        return failure(result, f"switching to docker context {wanted!r}", captured)
    message = f"docker context {previous!r} → {wanted!r}"
    return succeeded(result, message, captured=captured, value=captured, changed=True)


def prune(spec: Any, r: Mapping[str, Any], ctx: StepRun, deadline: Deadline) -> StepResult:
    result = run_cli(PRUNE_ARGV, ctx, deadline)
    if not result.ok:
        return failure(result, "docker system prune")
    return succeeded(result, "stopped containers, unused networks, dangling images removed")


ACTIONS: dict[str, Action] = {
    "status": status,
    "start": start,
    "stop": stop,
    "restart": restart,
    "engine_ping": engine_ping,
    "ensure_resources": ensure_resources,
    "check_disk_image": check_disk_image,
    "prune": prune,
    "context_use": context_use,
}


def undo(spec: Any, captured: Mapping[str, Any], ctx: StepRun) -> StepResult:
    """start ↔ stop (only when the step changed the state), context back to the previous."""
    deadline = Deadline(ctx.timeout)
    if spec.action == "context_use":
        previous = str(captured.get("previous") or "")
        if captured.get("switched") is False:
            return succeeded(None, f"the context was already {previous!r}; left as is")
        if not previous:
            return refused("the previous docker context was not captured")
        return _undo_with(context_use_argv(previous), ctx, deadline, f"context {previous!r}")
    was_running = bool(captured.get("was_running"))
    if was_running == (spec.action == "start"):
        return succeeded(None, "Docker Desktop was already in that state; left as is")
    command = "start" if was_running else "stop"
    return _undo_with(desktop_argv(command), ctx, deadline, f"docker desktop {command}")


def _undo_with(argv: list[str], ctx: StepRun, deadline: Deadline, what: str) -> StepResult:
    result = run_cli(argv, ctx, deadline)
    if not result.ok:
        return failure(result, f"undo ({what})")
    return succeeded(result, f"undone: {what}")
