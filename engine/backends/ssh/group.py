"""A step over one host or a group: serial by default, `parallel: N` at most N at once.

After the first host that does not succeed no further host is started (hosts already
running finish). Each host's result is kept; the step's status is the worst of them
(unknown > timed out > failed > succeeded), and `captured["hosts"]` records per host
what happened, so that an undo knows where the step took effect.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from msgspec import Struct
from msgspec.structs import replace

from engine.backends.command_result import Expect, command_result
from engine.backends.ssh.command import RemoteCommand, run_remote
from engine.backends.ssh.errors import RemoteError, SessionError
from engine.backends.ssh.inventory import Host, Inventory
from engine.backends.ssh.pool import connection
from engine.backends.step_run import StepRun
from engine.backends.supervisor import CommandOutcome, Ending, TailBuffer
from engine.core.results import Status, StepResult

SEVERITY = (Status.UNKNOWN, Status.TIMED_OUT, Status.FAILED, Status.SUCCEEDED)


class HostResult(Struct, frozen=True):
    host: str
    result: StepResult
    transport: str = ""  # "new" | "reused" | "" (no connection)
    connect_ms: float | None = None

    def record(self) -> dict[str, Any]:
        """What the ledger keeps for this host (in the step's `captured`)."""
        data: dict[str, Any] = {"status": str(self.result.status)}
        data["exit_code"] = self.result.exit_code
        if self.transport:
            data["transport"] = self.transport
        if self.connect_ms is not None:
            data["connect_ms"] = round(self.connect_ms, 1)
        return data


class Job(Struct, frozen=True):
    """One command and how to judge it, the same for every host of the step."""

    command: RemoteCommand
    expect: Expect
    capture: bool


def run_on_host(
    host: Host,
    inventory: Inventory,
    job: Job,
    ctx: StepRun,
    on_output: Callable[[str], None],
) -> HostResult:
    """Connect (or reuse the run's transport) and run the job on one host."""
    try:
        conn = connection(host, inventory, ctx.resources)
        transport, opened = conn.get()
        command = replace(job.command, host=host.name)
        outcome = run_remote(
            transport, command, timeout=ctx.timeout, on_output=on_output, cancel=ctx.cancel,
            cap=ctx.output_cap,
        )  # fmt: skip
    except RemoteError as exc:  # nothing ran on the host
        where = f" on {host.login} ({host.name})" if isinstance(exc, SessionError) else ""
        return HostResult(host.name, StepResult(Status.FAILED, message=exc.summary() + where))
    connect_ms = conn.connect_seconds[-1] * 1000 if opened else None
    result = judge(outcome, job, host, ctx.timeout)
    return HostResult(host.name, result, "new" if opened else "reused", connect_ms)


def judge(outcome: CommandOutcome, job: Job, host: Host, timeout: float | None) -> StepResult:
    """A finished remote command as a StepResult."""
    if outcome.ending is Ending.EXITED:
        return command_result(
            outcome.exit_code, outcome.stdout, outcome.output, job.expect, False, job.capture
        )
    if outcome.ending is Ending.TIMED_OUT:
        message = f"timed out after {timeout:g}s (command deadline); {outcome.detail}"
        return StepResult(Status.TIMED_OUT, None, outcome.output, message)
    if outcome.ending is Ending.CANCELLED:
        return StepResult(Status.UNKNOWN, None, outcome.output, f"cancelled; {outcome.detail}")
    message = (
        f"no exit status from {host.name}: the connection was lost mid-command or the "
        "command was killed; whether it took effect is unknown"
    )
    if outcome.detail:
        message += f" ({outcome.detail})"
    return StepResult(Status.UNKNOWN, None, outcome.output, message)


def run_hosts(
    hosts: Sequence[Host], run_one: Callable[[Host], HostResult], parallel: int
) -> list[HostResult]:
    """Run on each host, at most `parallel` at once; start none after a failure."""
    if parallel <= 1 or len(hosts) == 1:
        results: list[HostResult] = []
        for host in hosts:
            results.append(run_one(host))
            if not results[-1].result.ok:
                break
        return results
    return _in_parallel(hosts, run_one, parallel)


def _in_parallel(
    hosts: Sequence[Host], run_one: Callable[[Host], HostResult], parallel: int
) -> list[HostResult]:
    waiting = list(hosts)
    running: set[Future[HostResult]] = set()
    done: list[HostResult] = []
    with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="ssh") as pool:
        while waiting or running:
            healthy = all(item.result.ok for item in done)
            while healthy and waiting and len(running) < parallel:
                running.add(pool.submit(run_one, waiting.pop(0)))
            if not running:
                break
            finished, running = wait(running, return_when=FIRST_COMPLETED)
            done.extend(future.result() for future in finished)
    order = {host.name: index for index, host in enumerate(hosts)}
    return sorted(done, key=lambda item: order[item.host])


def host_output(
    emit: Callable[[str], None], grouped: bool
) -> Callable[[str], Callable[[str], None]]:
    """Per host, an output callback; for a group, lines are prefixed `[host] ` and
    serialized (hosts may run in parallel threads)."""
    lock = threading.Lock()

    def for_host(name: str) -> Callable[[str], None]:
        if not grouped:
            return emit

        def locked(line: str) -> None:
            with lock:
                emit(f"[{name}] {line}")

        return locked

    return for_host


def combine(results: Sequence[HostResult], hosts: Sequence[Host], cap: int) -> StepResult:
    """One StepResult for the step: the worst status, per-host details in `captured`."""
    if len(hosts) == 1 and len(results) == 1:
        only = results[0].result
        captured = {"hosts": {results[0].host: results[0].record()}}
        return StepResult(
            only.status, only.exit_code, only.output, only.message, captured, only.value
        )
    status = min((r.result.status for r in results), key=SEVERITY.index, default=Status.FAILED)
    worst = next((r for r in results if r.result.status is status), None)
    output = TailBuffer(cap)
    for item in results:
        output.add(f"[{item.host}] {item.result.status}\n{item.result.output}")
    captured = {"hosts": {r.host: r.record() for r in results}}
    value = {r.host: r.result.value for r in results} if status is Status.SUCCEEDED else None
    exit_code = worst.result.exit_code if worst else None
    return StepResult(status, exit_code, output.text(), _summary(results, hosts), captured, value)


def _summary(results: Sequence[HostResult], hosts: Sequence[Host]) -> str:
    parts = [
        f"{r.host}: {r.result.status}" + (f" ({r.result.message})" if r.result.message else "")
        for r in results
    ]
    started = {r.host for r in results}
    skipped = [h.name for h in hosts if h.name not in started]
    if skipped:
        parts.append(f"not started: {', '.join(skipped)}")
    return "; ".join(parts)
