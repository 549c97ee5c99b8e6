"""Step types whose format is published but whose execution is not in this release.

Such a step validates, plans and shows its reversibility; a run that contains one
is refused before step 1 (see `engine.runner`), never half-way through.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from msgspec import Struct, field

from engine.findings import Location
from engine.steps.base import (
    DEFAULT_STEP_TIMEOUT,
    Planned,
    Status,
    StepContext,
    StepResult,
    Verdict,
)


class DeclaredSpec(Struct, frozen=True):
    """The step body as written; `action` is its `action` key when it has one."""

    type: str
    body: Mapping[str, Any]

    @property
    def action(self) -> str:
        return str(self.body.get("action", ""))


def _never(spec: DeclaredSpec) -> bool:
    return False


class DeclaredType(Struct, frozen=True):
    """A StepType whose `apply` and `undo` report that execution is unavailable."""

    name: str
    readonly_actions: frozenset[str] = frozenset()
    self_undoing_actions: frozenset[str] = frozenset()
    readonly_rule: Callable[[DeclaredSpec], bool] | None = field(default=None)
    available: bool = False
    needs_human: bool = False
    default_timeout: float | None = DEFAULT_STEP_TIMEOUT
    probed: bool = True

    def parse(self, body: Any, where: Location) -> DeclaredSpec:
        return DeclaredSpec(self.name, MappingProxyType(dict(body)))

    def is_readonly(self, spec: DeclaredSpec) -> bool:
        if self.readonly_rule is not None:
            return self.readonly_rule(spec)
        return spec.action in self.readonly_actions

    def undoes_itself(self, spec: DeclaredSpec) -> bool:
        return spec.action in self.self_undoing_actions

    def capture_name(self, spec: DeclaredSpec) -> str | None:
        value = spec.body.get("capture")
        return str(value) if value is not None else None

    def expectation(self, spec: DeclaredSpec) -> str:
        return ""

    def plan(self, spec: DeclaredSpec, ctx: StepContext) -> Planned:
        rendered = ctx.render.value(dict(spec.body))
        command = f"{self.name} {json.dumps(rendered, sort_keys=True, default=str)}"
        note = f"the {self.name} step type is not available in this release"
        return Planned(command, self.is_readonly(spec), Verdict.UNKNOWN, note)

    def apply(self, spec: DeclaredSpec, ctx: StepContext) -> StepResult:
        return self._unavailable()

    def undo(self, spec: DeclaredSpec, captured: Mapping[str, Any], ctx: StepContext) -> StepResult:
        return self._unavailable()

    def _unavailable(self) -> StepResult:
        message = f"the {self.name} step type is not available in this release"
        return StepResult(Status.FAILED, message=message)
