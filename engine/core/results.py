"""What a step produces: its status, a plan's verdict, its result, and the error of a
step body the step type cannot use. Failure is data: a failed command is a `StepResult`;
an exception means the step could not even be tried."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from msgspec import Struct, field


class Status(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    UNKNOWN = "unknown"  # we cannot tell whether it took effect
    SKIPPED = "skipped"


class Verdict(StrEnum):
    WOULD_CHANGE = "would change"
    NO_OP = "no-op"
    UNKNOWN = "unknown"


class SpecError(ValueError):
    """A step body that the schema accepted but the step type cannot use."""

    def __init__(self, message: str, hint: str = "", field_name: str = "") -> None:
        super().__init__(message)
        self.hint = hint
        self.field_name = field_name


class Planned(Struct, frozen=True):
    """What a step would do, rendered, without doing it."""

    command: str
    readonly: bool
    verdict: Verdict = Verdict.UNKNOWN
    note: str = ""


class StepResult(Struct, frozen=True):
    """How one attempt of a step ended: status, output, captures, undo state."""

    status: Status
    exit_code: int | None = None
    output: str = ""
    message: str = ""
    captured: Mapping[str, Any] = field(default_factory=dict)  # state the undo needs
    value: Any = None  # what `capture:` stores for later steps
    changed: bool | None = None
    # How the step's own compensation ended (a group step undone on the hosts where it
    # succeeded); None when it needed none. Not SUCCEEDED: the run cannot end better
    # than `rollback_failed`.
    compensation: Status | None = None

    @property
    def ok(self) -> bool:
        return self.status is Status.SUCCEEDED
