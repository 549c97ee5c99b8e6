"""The contract every step type implements, and the values it exchanges with the runner.

A step type is a module exposing the functions of `StepType`; the registry maps the
YAML key to the module. `plan` has no side effects; `apply` may capture undo state;
a failed command is a `StepResult`, while an exception means "could not even try".
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from msgspec import Struct, field

from engine.backends.local.containment import Containment
from engine.core.findings import Location

if TYPE_CHECKING:
    from engine.core.shellsyntax import ShellCommand


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

    @property
    def ok(self) -> bool:
        return self.status is Status.SUCCEEDED


class Renderer(Protocol):
    def text(self, template: str) -> str: ...

    def shell(self, template: str) -> ShellCommand: ...

    def argv(self, parts: Sequence[str]) -> list[str]: ...

    def value(self, data: Any) -> Any: ...


class Operator(Protocol):
    """A human at a terminal (or a stand-in that refuses)."""

    def confirm(self, question: str) -> bool: ...

    def checklist(self, title: str, body: str, expect: str) -> tuple[str, str]: ...


class Resources:
    """Per-run cache of connections (one SSH transport per host, one API client per context)."""

    def __init__(self) -> None:
        self._items: dict[str, Any] = {}
        self._closers: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    def get(self, key: str, create: Callable[[], Any], close: Callable[[Any], None]) -> Any:
        with self._lock:
            if key not in self._items:
                item = create()
                self._items[key] = item
                self._closers.append(lambda: close(item))
            return self._items[key]

    def close_all(self) -> None:
        for closer in reversed(self._closers):
            try:
                closer()
            except Exception:  # noqa: S112 - closing is best effort
                continue
        self._closers.clear()
        self._items.clear()


class StepContext(Struct):
    """What a step type may use while it runs."""

    step_id: str
    render: Renderer
    operator: Operator
    resources: Resources
    base_dir: Path
    timeout: float | None = None
    on_output: Callable[[str], None] = lambda line: None
    # Called once the step's command is running (the ledger commits alongside it).
    on_started: Callable[[], None] = lambda: None
    cancel: threading.Event = field(default_factory=threading.Event)
    output_cap: int = 64 * 1024
    settings: Mapping[str, Any] = field(default_factory=dict)  # run-wide options (inventory...)
    # Where the run's local commands live, so all their processes die with them.
    containment: Containment | None = None


class StepType(Protocol):
    """The functions every module in `engine/steps/` exposes."""

    def parse(self, body: Any, where: Location) -> Any: ...

    def is_readonly(self, spec: Any) -> bool: ...

    def undoes_itself(self, spec: Any) -> bool: ...

    def plan(self, spec: Any, ctx: StepContext) -> Planned: ...

    def apply(self, spec: Any, ctx: StepContext) -> StepResult: ...

    def undo(self, spec: Any, captured: Mapping[str, Any], ctx: StepContext) -> StepResult: ...
