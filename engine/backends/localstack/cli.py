"""Run `minikube` and `docker` under the step's deadline, and name what went wrong.

Every call goes through `run_process`: its own process group, killed whole when the
deadline passes (`docker desktop restart` and a hung engine would otherwise wait
forever). One step may make several calls (read the profile, then start it); they
share one `Deadline`, so the step's `timeout:` bounds all of them together.
"""

from __future__ import annotations

import shlex
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec.structs
from msgspec import Struct

from engine.backends.local.process import CannotStart, run_process
from engine.backends.step_run import StepRun
from engine.core.results import Status, StepResult

DEFAULT_DEADLINE = 30 * 60.0
READ_LIMIT = 120.0  # a read-only look (status, profile list) never takes longer than this
STDERR_TAIL_LINES = 8


class Deadline:
    """The end of a step's time; each call gets what is left."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds if seconds else DEFAULT_DEADLINE
        self.end = time.monotonic() + self.seconds

    def remaining(self, cap: float | None = None) -> float:
        left = max(0.0, self.end - time.monotonic())
        return min(left, cap) if cap is not None else left


class CliResult(Struct, frozen=True):
    """One finished (or killed) CLI call."""

    argv: tuple[str, ...]
    exit_code: int | None
    stdout: str
    output: str
    timed_out: bool = False
    cancelled: bool = False
    limit: float = 0.0
    not_started: str = ""  # why the command could not start (then nothing ran)

    @property
    def command(self) -> str:
        return shlex.join(self.argv)

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def stderr_tail(self, lines: int = STDERR_TAIL_LINES) -> str:
        """The last lines the command wrote to stderr (its output minus its stdout)."""
        left = Counter(self.stdout.splitlines())
        errors = []
        for line in self.output.splitlines():
            if left[line] > 0:
                left[line] -= 1
            elif line.strip():
                errors.append(line.rstrip())
        return "\n".join(errors[-lines:])


def run_cli(
    argv: Sequence[str],
    ctx: StepRun,
    deadline: Deadline,
    *,
    read_only: bool = False,
) -> CliResult:
    """Run one command within what is left of the deadline; a read-only look is capped
    at READ_LIMIT. An exhausted deadline does not start the command at all."""
    limit = deadline.remaining(READ_LIMIT if read_only else None)
    if limit <= 0:
        return CliResult(tuple(argv), None, "", "", timed_out=True, limit=0.0)
    try:
        outcome = run_process(
            list(argv),
            timeout=limit,
            on_output=(lambda line: None) if read_only else ctx.on_output,
            cancel=ctx.cancel,
            cap=ctx.output_cap,
            contain=ctx.containment,
            withhold=ctx.withheld_env,
        )
    except CannotStart as exc:
        return CliResult(tuple(argv), None, "", "", not_started=str(exc))
    return CliResult(
        tuple(argv),
        outcome.exit_code,
        outcome.stdout,
        outcome.output,
        timed_out=outcome.timed_out,
        cancelled=outcome.cancelled,
        limit=limit,
    )


def failure(result: CliResult, doing: str, captured: Mapping[str, Any] | None = None) -> StepResult:
    """A StepResult that names the command, its exit code and the tail of its stderr.
    A timeout is TIMED_OUT (outcome unknown), a cancel UNKNOWN, never FAILED."""
    captured = dict(captured or {})
    if result.not_started:
        return StepResult(Status.FAILED, None, "", f"{doing}: {result.not_started}", captured)
    if result.timed_out:
        message = (
            f"{doing}: `{result.command}` did not finish within {result.limit:.0f}s; "
            "its process group was killed and the outcome is unknown"
        )
        return StepResult(Status.TIMED_OUT, None, result.output, message, captured)
    if result.cancelled or result.exit_code is None:
        message = f"{doing}: `{result.command}` was cancelled; its process group was killed"
        return StepResult(Status.UNKNOWN, None, result.output, message, captured)
    tail = result.stderr_tail() or result.output.strip()[-400:]
    message = f"{doing}: `{result.command}` exited {result.exit_code}"
    if tail:
        message += f"; stderr: {tail}"
    return StepResult(Status.FAILED, result.exit_code, result.output, message, captured)


def refused(message: str, captured: Mapping[str, Any] | None = None) -> StepResult:
    """A step the engine would not run: nothing was changed."""
    return StepResult(Status.FAILED, None, "", f"refused: {message}", dict(captured or {}))


def succeeded(result: CliResult | None, message: str = "", **extra: Any) -> StepResult:
    """A successful step; `extra` goes to StepResult (captured, value, changed)."""
    output = result.output if result is not None else ""
    code = result.exit_code if result is not None else 0
    return StepResult(Status.SUCCEEDED, code, output, message, **extra)


def with_reason(result: StepResult, reason: str) -> StepResult:
    """The step's `reason:` recorded with what it did (in the ledger's message)."""
    if not reason or not result.ok:
        return result
    message = f"{result.message}; reason: {reason}" if result.message else f"reason: {reason}"
    return msgspec.structs.replace(result, message=message)
