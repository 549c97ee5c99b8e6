"""`wait`: pause for a duration (interruptible by an abort)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from msgspec import Struct

from engine.core.durations import format_seconds, parse_duration
from engine.core.findings import Location
from engine.core.results import Planned, Status, StepResult, Verdict
from engine.steps.base import DEFAULT_STEP_TIMEOUT, Detail, StepContext

# Running it in `plan --probe` would only pass time.
needs_human = False
default_timeout: float | None = DEFAULT_STEP_TIMEOUT
probed = False
command_fields: frozenset[str] = frozenset()
stdin_fields: frozenset[str] = frozenset()


class WaitSpec(Struct, frozen=True):
    seconds: float
    reason: str = ""


def parse(body: Any, where: Location) -> WaitSpec:
    if isinstance(body, str):
        return WaitSpec(parse_duration(body))
    return WaitSpec(parse_duration(body["duration"]), str(body.get("reason", "")))


def is_readonly(spec: WaitSpec) -> bool:
    return True


def undoes_itself(spec: WaitSpec) -> bool:
    return False


def capture_name(spec: WaitSpec) -> str | None:
    return None


def expectation(spec: WaitSpec) -> str:
    return ""


def plan(spec: WaitSpec, ctx: StepContext) -> Planned:
    why = f" ({spec.reason})" if spec.reason else ""
    return Planned(
        f"wait {format_seconds(spec.seconds)}{why}", readonly=True, verdict=Verdict.NO_OP
    )


def details(spec: WaitSpec, ctx: StepContext) -> list[Detail]:
    """Nothing beyond what `plan` shows."""
    return []


def apply(spec: WaitSpec, ctx: StepContext) -> StepResult:
    if ctx.cancel.wait(spec.seconds):
        return StepResult(Status.FAILED, message="wait interrupted")
    return StepResult(Status.SUCCEEDED)


def undo(spec: WaitSpec, captured: Mapping[str, Any], ctx: StepContext) -> StepResult:
    return StepResult(Status.SUCCEEDED)
