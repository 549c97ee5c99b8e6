"""The kinds of event a run emits, and the fields each kind carries.

Every kind is an `EventKind` (a `StrEnum`: the ledger and `--output json` show the same
strings as ever) and has one payload Struct, named after it (`StepResultEvent` and
`UndoResultEvent`, beside the steps' own `StepResult`), that says its fields. The
order of a Struct's fields is the order of the keys the ledger stores and JSON shows; a
field left `UNSET` is not stored at all (a step that failed to render has no output).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from enum import StrEnum
from typing import Any, ClassVar, Protocol, runtime_checkable

from msgspec import UNSET, Struct, UnsetType, ValidationError, convert, field
from msgspec.structs import asdict
from msgspec.structs import fields as struct_fields

from engine.core.outcome import Outcome


class EventKind(StrEnum):
    """Every kind of event the engine emits or the ledger records."""

    RUN_STARTED = "run_started"
    STEP_INTENT = "step_intent"
    OUTPUT = "output"  # a line of a running step's output: for displays, never recorded
    STEP_RETRY = "step_retry"
    STEP_RESULT = "step_result"
    STEP_SKIPPED = "step_skipped"
    AWAITING_OPERATOR = "awaiting_operator"
    CONFIRM_ANSWER = "confirm_answer"
    SLI_SAMPLE = "sli_sample"
    LEFTOVERS_KILLED = "leftovers_killed"
    LOCK_WAITED = "lock_waited"
    LOCK_TAKEN = "lock_taken"
    LOCK_REFUSED = "lock_refused"
    LOCK_RELEASED = "lock_released"
    LOCK_RELEASE_FAILED = "lock_release_failed"
    LOCK_LOST = "lock_lost"
    ROLLBACK_STARTED = "rollback_started"
    UNDO_SKIPPED = "undo_skipped"
    UNDO_INTENT = "undo_intent"
    UNDO_RESULT = "undo_result"
    ROLLBACK_FINISHED = "rollback_finished"
    RUN_FINISHED = "run_finished"
    INTERRUPTED = "interrupted"  # written by the ledger for a run whose engine is gone
    # `runbook tabletop`: who took part, each step's answer, the findings at the end
    TABLETOP_PARTICIPANTS = "tabletop_participants"
    TABLETOP_ANSWER = "tabletop_answer"
    TABLETOP_FINDINGS = "tabletop_findings"


class Payload(Struct, frozen=True, kw_only=True):
    """The fields of one kind of event; each subclass sets its `kind`."""

    kind: ClassVar[EventKind]
    unset_default: ClassVar[tuple[str, ...]] = ()  # the fields that may be left out

    def fields(self) -> dict[str, Any]:
        """The event's data as the ledger stores it: the fields set, in their order."""
        data = asdict(self)
        for name in self.unset_default:
            if data[name] is UNSET:
                del data[name]
        return data


class RunStarted(Payload, frozen=True, kw_only=True):
    kind = EventKind.RUN_STARTED
    playbook: str
    version: str
    maturity: int
    mode: str
    steps: list[str]
    approved_by: str | None
    operator: str
    os_user: str
    parent_run: str | None
    source: str  # the playbook's text, for a later rollback (JSON output leaves it out)
    trigger: str | None = None  # the alert decision that started it (`runbook serve`)


class StepIntent(Payload, frozen=True, kw_only=True):
    kind = EventKind.STEP_INTENT
    command: str
    readonly: bool


class Output(Payload, frozen=True, kw_only=True):
    kind = EventKind.OUTPUT
    line: str


class StepRetry(Payload, frozen=True, kw_only=True):
    """Attempt `attempt` of `attempts` (the step's `retry.attempts`; a record without it
    does not tell) ended `status`; the next one starts after `delay` seconds."""

    kind = EventKind.STEP_RETRY
    attempt: int
    attempts: int | UnsetType = UNSET
    status: str
    message: str
    delay: float


class StepResultEvent(Payload, frozen=True, kw_only=True):
    """How a step ended. A step that could not be rendered never ran: no output, value or
    captures."""

    kind = EventKind.STEP_RESULT
    status: str
    exit_code: int | None
    message: str
    output: str | UnsetType = UNSET
    value: Any = UNSET
    captured: dict[str, Any] | UnsetType = UNSET
    attempts: int
    duration: float


class StepSkipped(Payload, frozen=True, kw_only=True):
    kind = EventKind.STEP_SKIPPED
    reason: str


class AwaitingOperator(Payload, frozen=True, kw_only=True):
    kind = EventKind.AWAITING_OPERATOR
    question: str


class ConfirmAnswer(Payload, frozen=True, kw_only=True):
    kind = EventKind.CONFIRM_ANSWER
    approved: bool
    by: str
    os_user: str


class SliSample(Payload, frozen=True, kw_only=True):
    kind = EventKind.SLI_SAMPLE
    phase: str
    verdict: str
    value: float | None
    error: str
    detail: str
    sample_ts: float


class LeftoversKilled(Payload, frozen=True, kw_only=True):
    kind = EventKind.LEFTOVERS_KILLED
    of_run: str | None
    processes: int


class LockWaited(Payload, frozen=True, kw_only=True):
    kind = EventKind.LOCK_WAITED
    target: str
    holder: dict[str, Any]


class LockTaken(Payload, frozen=True, kw_only=True):
    """The leases were taken; `held_by` names the run that holds them for this one (a
    rollback under its drill), only when it is not this run."""

    kind = EventKind.LOCK_TAKEN
    targets: list[str]
    epochs: dict[str, int]
    waited: float
    taken_over: list[dict[str, Any]]
    held_by: str | UnsetType = UNSET


class LockRefused(Payload, frozen=True, kw_only=True):
    kind = EventKind.LOCK_REFUSED
    target: str
    holder: dict[str, Any]
    waited: float


class LockReleased(Payload, frozen=True, kw_only=True):
    kind = EventKind.LOCK_RELEASED
    targets: list[str]


class LockReleaseFailed(Payload, frozen=True, kw_only=True):
    kind = EventKind.LOCK_RELEASE_FAILED
    reason: str
    expires_in: float


class LockLost(Payload, frozen=True, kw_only=True):
    kind = EventKind.LOCK_LOST
    reason: str


class RollbackStarted(Payload, frozen=True, kw_only=True):
    kind = EventKind.ROLLBACK_STARTED
    steps: list[str]


class UndoSkipped(Payload, frozen=True, kw_only=True):
    kind = EventKind.UNDO_SKIPPED
    reason: str


class UndoIntent(Payload, frozen=True, kw_only=True):
    kind = EventKind.UNDO_INTENT
    of_status: str


class UndoResultEvent(Payload, frozen=True, kw_only=True):
    kind = EventKind.UNDO_RESULT
    status: str
    exit_code: int | None
    message: str
    output: str


class RollbackFinished(Payload, frozen=True, kw_only=True):
    kind = EventKind.ROLLBACK_FINISHED
    ok: bool
    failed: list[str]


class RunFinished(Payload, frozen=True, kw_only=True):
    kind = EventKind.RUN_FINISHED
    outcome: Outcome
    message: str


class Interrupted(Payload, frozen=True, kw_only=True):
    """Written by the ledger, not the engine: the run's engine process is gone."""

    kind = EventKind.INTERRUPTED
    reason: str
    owner_pid: int
    found_by_pid: int


class TabletopParticipants(Payload, frozen=True, kw_only=True):
    """Who walked through the playbook in a tabletop exercise."""

    kind = EventKind.TABLETOP_PARTICIPANTS
    participants: list[str]


class TabletopAnswer(Payload, frozen=True, kw_only=True):
    """The participants' answer at one step: `would_do`, `unclear` or `blocked`, their
    note, and for an unclear or blocked step the kind of gap (else "")."""

    kind = EventKind.TABLETOP_ANSWER
    answer: str
    note: str
    gap: str


class TabletopFindings(Payload, frozen=True, kw_only=True):
    """The end of a tabletop: its free-form findings and how long it took (seconds,
    measured on a monotonic clock)."""

    kind = EventKind.TABLETOP_FINDINGS
    findings: str
    duration: float


PAYLOADS: dict[EventKind, type[Payload]] = {
    cls.kind: cls for cls in Payload.__subclasses__()
}  # every kind has one (a test checks it)

for _cls in PAYLOADS.values():
    _cls.unset_default = tuple(f.name for f in struct_fields(_cls) if f.default is UNSET)


def read_payload(kind: str, data: Mapping[str, Any]) -> Payload | None:
    """A recorded event's data as its typed payload; None when it cannot be one: a kind
    this engine does not know, or a record of an older engine that lacks a field (its
    reader then shows the data as they are). Fields it does not know are left out."""
    try:
        cls = PAYLOADS[EventKind(kind)]
    except ValueError:
        return None
    try:
        return convert(dict(data), cls, strict=False)
    except ValidationError:
        return None


class Event(Struct, frozen=True):
    """One thing that happened in a run, as listeners and the ledger see it: `data` is
    what the ledger stores and JSON shows, `payload` the same fields typed (both
    redacted). The bus always sets `payload`; only an event made by hand lacks it."""

    kind: EventKind
    run_id: str
    step_id: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    ts: float = field(default_factory=time.time)
    payload: Payload | None = None


class Listener(Protocol):
    def __call__(self, event: Event) -> None: ...


@runtime_checkable
class Flushable(Protocol):
    """A listener that holds lines back (to write them in fewer calls) and can write them
    now: the bus flushes such listeners before it says something on stderr."""

    def flush(self) -> None: ...
