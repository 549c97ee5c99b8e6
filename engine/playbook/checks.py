"""Rules a schema cannot express: unique ids, reversibility, and the maturity ladder."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from engine.errors import Finding, Location
from engine.playbook.model import Action, InputSpec, Playbook, Step
from engine.steps.registry import HUMAN_TYPES, step_type

ERROR, WARNING = "error", "warning"


def semantic_findings(playbook: Playbook) -> list[Finding]:
    """Every semantic problem of a built playbook."""
    checks = (
        _duplicate_ids,
        _duplicate_captures,
        _reversibility,
        _maturity,
        _input_declarations,
        _advice,
    )
    return [finding for check in checks for finding in check(playbook)]


def all_steps(playbook: Playbook) -> tuple[Step, ...]:
    drill = playbook.drill
    return playbook.steps + ((drill.inject + drill.revert) if drill else ())


def is_readonly(step: Step) -> bool:
    """The author's `readonly:` when given, else what the step type says."""
    if step.readonly is not None:
        return step.readonly
    return _action_readonly(step.action)


def mitigates(step: Step) -> bool:
    """Whether the SLI is checked after this step: `mitigates:` when given, else any
    step that changes something."""
    return step.mitigates if step.mitigates is not None else not is_readonly(step)


def _action_readonly(action: Action) -> bool:
    return action.spec is not None and step_type(action.type).is_readonly(action.spec)


def undoes_itself(step: Step) -> bool:
    spec = step.action.spec
    return spec is not None and step_type(step.action.type).undoes_itself(spec)


def _finding(step: Step, path: str, message: str, hint: str, severity: str = ERROR) -> Finding:
    return Finding(step.location, path, message, hint, severity)


def _duplicate_ids(playbook: Playbook) -> Iterator[Finding]:
    seen: dict[str, Step] = {}
    for step in all_steps(playbook):
        first = seen.setdefault(step.id, step)
        if first is not step:
            message = f"duplicate step id {step.id!r} (first used at line {first.location.line})"
            yield _finding(step, "id", message, "give every step its own id")


def _duplicate_captures(playbook: Playbook) -> Iterator[Finding]:
    seen: set[str] = set()
    for step in all_steps(playbook):
        name = getattr(step.action.spec, "capture", None)
        if isinstance(name, str):
            if name in seen:
                message = f"capture name {name!r} is already used by an earlier step"
                yield _finding(step, "capture", message, "use a distinct name for each capture")
            seen.add(name)


def _reversibility(playbook: Playbook) -> Iterator[Finding]:
    severity = WARNING if playbook.metadata.maturity == 1 else ERROR
    for step in all_steps(playbook):
        if step.undo is not None and step.irreversible:
            hint = "keep `undo:` or `irreversible:`, not both"
            yield _finding(step, step.id, "declares both an undo and irreversible", hint)
        if _lacks_undo_story(step):
            message = f"step {step.id!r} changes something but has no undo"
            hint = (
                "add `undo:`, `irreversible: <reason>`, or `readonly: true` if it changes nothing"
            )
            yield _finding(step, step.id, message, hint, severity)


def _lacks_undo_story(step: Step) -> bool:
    if step.action.type in HUMAN_TYPES or step.undo is not None or step.irreversible:
        return False
    return not is_readonly(step) and not undoes_itself(step)


def _maturity(playbook: Playbook) -> Iterator[Finding]:
    if playbook.metadata.maturity != 3:
        return
    top = Location(playbook.file, 1, 1)
    hint = "a Level-3 playbook runs unattended; fix this or lower metadata.maturity to 2"
    if playbook.sli is None:
        yield Finding(top, "sli", "level 3 needs an sli (how the engine knows it worked)", hint)
    if not playbook.targets:
        yield Finding(top, "targets", "level 3 needs targets (lock keys)", hint)
    if not playbook.metadata.triggers:
        yield Finding(top, "metadata.triggers", "level 3 needs triggers (which alerts)", hint)
    for step in all_steps(playbook):
        yield from _unattended_step(step, hint)


def _unattended_step(step: Step, hint: str) -> Iterator[Finding]:
    if step.action.type in HUMAN_TYPES:
        yield _finding(step, step.id, "level 3 cannot have manual steps", hint)
    if step.confirm:
        yield _finding(step, f"{step.id}.confirm", "level 3 cannot have confirm gates", hint)
    if step.timeout is None:
        yield _finding(step, f"{step.id}.timeout", "level 3 needs a timeout on every step", hint)


def _input_declarations(playbook: Playbook) -> Iterator[Finding]:
    for spec in playbook.inputs.values():
        yield from _input_problems(spec)


def _input_problems(spec: InputSpec) -> Iterator[Finding]:
    path = f"inputs.{spec.name}"
    if spec.pattern is not None:
        try:
            pattern = re.compile(spec.pattern)
        except re.error as exc:
            yield Finding(spec.location, path, f"pattern is not a regex: {exc}", "fix the pattern")
            return
        if isinstance(spec.default, str) and not pattern.fullmatch(spec.default):
            message = f"default {spec.default!r} does not match the input's own pattern"
            yield Finding(spec.location, path, message, "fix the default or the pattern")
    if spec.enum and spec.default is not None and spec.default not in spec.enum:
        message = f"default {spec.default!r} is not one of the input's enum values"
        yield Finding(spec.location, path, message, "fix the default or the enum")


def _advice(playbook: Playbook) -> Iterable[Finding]:
    top = Location(playbook.file, 1, 1)
    if playbook.metadata.maturity == 2 and playbook.sli is None:
        message = "no sli: a run cannot tell whether the service recovered"
        yield Finding(top, "sli", message, "add an sli probe", WARNING)
    if not playbook.metadata.owner:
        yield Finding(top, "metadata.owner", "no owner", "say who maintains this playbook", WARNING)
