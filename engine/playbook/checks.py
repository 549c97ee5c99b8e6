"""Rules a schema cannot express: unique ids, reversibility, the maturity ladder, and
ranges whose two ends are the wrong way round."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from msgspec.structs import replace

from engine.core.durations import format_seconds
from engine.core.findings import Finding, Location
from engine.model.playbook import (
    DEFAULT_DETECT_WITHIN,
    Drill,
    Healthy,
    InputSpec,
    Playbook,
    Slo,
    Step,
)
from engine.model.yamlsource import Path, Source, dotted
from engine.playbook import ecma
from engine.playbook.inputs import InputError, bind_inputs
from engine.playbook.traits import capture_name, is_readonly, undoes_itself
from engine.sli.registry import probe_available, probe_type
from engine.steps.registry import needs_human, playbook_hooks

ERROR, WARNING = "error", "warning"
UNDO_HINT = "add `undo:`, `irreversible: <reason>`, or `readonly: true` if it changes nothing"
LEVEL3_HINT = "a Level-3 playbook runs unattended; fix this or lower metadata.maturity to 2"


class Locator:
    """Where a model object came from: its raw path, and that path's position."""

    def __init__(self, playbook: Playbook, source: Source | None = None) -> None:
        self.file = playbook.file
        self.source = source
        self.paths = {id(step): path for path, step in step_paths(playbook)}

    def at(self, path: Path, fallback: Location | None = None) -> Location:
        if self.source is not None:
            return self.source.at(path)
        return fallback or Location(self.file, 1, 1)

    def step(self, step: Step, *sub: str) -> tuple[Location, str]:
        path = (*self.paths.get(id(step), ()), *sub)
        return self.at(path, step.location), dotted(path)

    def finding(self, step: Step, sub: Path, message: str, hint: str, severity: str) -> Finding:
        location, path = self.step(step, *map(str, sub))
        return Finding(location, path, message, hint, severity)


def semantic_findings(playbook: Playbook, source: Source | None = None) -> list[Finding]:
    """Every semantic problem of a built playbook (located precisely when `source` is given)."""
    where = Locator(playbook, source)
    checks = (
        _duplicate_ids,
        _duplicate_captures,
        _reversibility,
        _maturity,
        _input_declarations,
        _reversed_ranges,
        _step_type_problems,
        _advice,
    )
    return [finding for check in checks for finding in check(playbook, where)]


def all_steps(playbook: Playbook) -> tuple[Step, ...]:
    drill = playbook.drill
    return playbook.steps + ((drill.inject + drill.revert) if drill else ())


def step_paths(playbook: Playbook) -> Iterator[tuple[Path, Step]]:
    """Every step with its raw path: ("steps", 0), ("drill", "inject", 0)…"""
    drill = playbook.drill
    groups: dict[Path, tuple[Step, ...]] = {("steps",): playbook.steps}
    if drill:
        groups.update({("drill", "inject"): drill.inject, ("drill", "revert"): drill.revert})
    for prefix, steps in groups.items():
        yield from (((*prefix, index), step) for index, step in enumerate(steps))


def _duplicate_ids(playbook: Playbook, where: Locator) -> Iterator[Finding]:
    seen: dict[str, Step] = {}
    for step in all_steps(playbook):
        first = seen.setdefault(step.id, step)
        if first is not step:
            message = f"duplicate step id {step.id!r} (first used at line {first.location.line})"
            yield where.finding(step, ("id",), message, "give every step its own id", ERROR)


def _duplicate_captures(playbook: Playbook, where: Locator) -> Iterator[Finding]:
    seen: dict[str, Step] = {}
    for step in all_steps(playbook):
        name = capture_name(step)
        if not isinstance(name, str):
            continue
        first = seen.setdefault(name, step)
        if first is not step:
            message = f"capture name {name!r} is already used by step {first.id!r}"
            hint = "use a distinct name for each capture"
            yield where.finding(step, (step.action.type, "capture"), message, hint, ERROR)


def _reversibility(playbook: Playbook, where: Locator) -> Iterator[Finding]:
    severity = WARNING if playbook.metadata.maturity == 1 else ERROR
    for step in all_steps(playbook):
        if step.undo is not None and step.irreversible:
            message = f"step {step.id!r} declares both `undo:` and `irreversible:`"
            hint = "keep `undo:` if it can be undone, else `irreversible: <reason>`"
            yield where.finding(step, ("irreversible",), message, hint, ERROR)
        if _lacks_undo_story(step):
            message = f"step {step.id!r} changes something but has no undo"
            hint = UNDO_HINT
            yield where.finding(step, (), message, hint, severity)


def _lacks_undo_story(step: Step) -> bool:
    if needs_human(step.action.type) or step.undo is not None or step.irreversible:
        return False
    return not is_readonly(step) and not undoes_itself(step)


def _maturity(playbook: Playbook, where: Locator) -> Iterator[Finding]:
    if playbook.metadata.maturity != 3:
        return
    level = where.at(("metadata", "maturity"))
    if playbook.sli is None:
        message = "level 3 needs an sli (how the engine knows it worked)"
        yield Finding(level, "sli", message, LEVEL3_HINT)
    if not playbook.targets:
        yield Finding(level, "targets", "level 3 needs targets (lock keys)", LEVEL3_HINT)
    if not playbook.metadata.triggers:
        message = "level 3 needs triggers (which alerts)"
        yield Finding(level, "metadata.triggers", message, LEVEL3_HINT)
    for step in all_steps(playbook):
        yield from _unattended_step(step, where)


def _step_type_problems(playbook: Playbook, where: Locator) -> Iterator[Finding]:
    """What the step types that look at the whole playbook find (e.g. kubectl's)."""
    steps = all_steps(playbook)
    for hook in playbook_hooks().values():
        for problem in hook.problems(playbook, steps):
            yield where.finding(problem.step, problem.path, problem.message, problem.hint, ERROR)


def _unattended_step(step: Step, where: Locator) -> Iterator[Finding]:
    if needs_human(step.action.type):
        message = "level 3 cannot have manual steps"
        yield where.finding(step, (step.action.type,), message, LEVEL3_HINT, ERROR)
    if step.confirm:
        message = "level 3 cannot have confirm gates"
        yield where.finding(step, ("confirm",), message, LEVEL3_HINT, ERROR)
    if step.timeout is None:
        message = f"step {step.id!r} has no timeout; level 3 needs one on every step"
        hint = "add e.g. `timeout: 5m`, or lower metadata.maturity to 2"
        yield where.finding(step, (), message, hint, ERROR)


def _input_declarations(playbook: Playbook, where: Locator) -> Iterator[Finding]:
    for spec in playbook.inputs.values():
        yield from _input_problems(spec, where)


def _input_problems(spec: InputSpec, where: Locator) -> Iterator[Finding]:
    path = ("inputs", spec.name)
    if spec.pattern is not None:
        refused = _pattern_problem(spec.pattern)
        if refused is not None:
            at = (*path, "pattern")
            yield Finding(where.at(at, spec.location), dotted(at), *refused)
            return
    if spec.default is not None:
        at = (*path, "default")
        for problem in _default_problems(spec):
            message = f"default {problem}"
            hint = "fix the default, or the declaration it must satisfy"
            yield Finding(where.at(at, spec.location), dotted(at), message, hint)
    for index, value in enumerate(spec.enum):
        member: Path = (*path, "enum", index)
        for problem in _default_problems(replace(spec, default=value)):
            message = f"enum value {problem}, so it can never be given"
            hint = "remove it, or fix the type or pattern it must satisfy"
            yield Finding(where.at(member, spec.location), dotted(member), message, hint)


def _pattern_problem(pattern: str) -> tuple[str, str] | None:
    """What is wrong with an input's pattern, and the fix: it must be ECMA-262, and one
    RE2 runs, since an alert's labels (text from anyone) are matched against it."""
    try:
        ecma.linear(pattern)
    except ecma.PatternTooLong as exc:  # not repeated back: it may be a megabyte
        return str(exc), exc.hint
    except ecma.PatternError as exc:
        message = f"pattern {pattern!r} is not an ECMA-262 regular expression: {exc}"
        return message, "write it as JSON Schema and JavaScript do, e.g. '^[a-z0-9-]+$'"
    except ecma.NotLinear as exc:
        return f"pattern {pattern!r} cannot be matched in linear time: {exc}", exc.hint
    return None


def _default_problems(spec: InputSpec) -> list[str]:
    """What `runbook run` would say about the default: the runtime's own check."""

    if spec.default is None:
        return []
    try:
        bind_inputs({spec.name: spec}, {})
    except InputError as exc:
        prefix = f"input '{spec.name}': "
        return [problem.removeprefix(prefix) for problem in exc.problems]
    return []


def _reversed_ranges(playbook: Playbook, where: Locator) -> Iterator[Finding]:
    """A low end above its high end: a range nothing is in, a cap below its start."""
    sli = playbook.sli
    if sli and sli.healthy:
        yield from _empty_between(sli.healthy, where)
    if sli and sli.slo:
        yield from _empty_slo(sli.slo, where)
    if sli and isinstance(sli.probe.spec, Mapping) and probe_available(sli.probe.type):
        yield from _probe_problems(sli.probe.type, sli.probe.spec, where)
    for step in all_steps(playbook):
        yield from _backoff_past_cap(step, where)
    if playbook.drill and playbook.drill.recover_within is not None:
        yield from _recovery_before_detection(playbook.drill, where)


def _probe_problems(kind: str, spec: Mapping[str, Any], where: Locator) -> Iterator[Finding]:
    """What the probe type finds in its spec beyond the schema (e.g. http's latency)."""
    for problem in probe_type(kind).problems(spec):
        at = ("sli", "probe", kind, problem.key)
        yield Finding(where.at(at), dotted(at), problem.message, problem.hint)


def _empty_between(healthy: Healthy, where: Locator) -> Iterator[Finding]:
    high = healthy.high
    if healthy.op == "between" and high is not None and healthy.low > high:
        at = ("sli", "healthy", "between")
        message = f"between [{healthy.low:g}, {high:g}]: no value is in this range"
        hint = f"write the low end first: between: [{high:g}, {healthy.low:g}]"
        yield Finding(where.at(at), dotted(at), message, hint)


def _empty_slo(slo: Slo, where: Locator) -> Iterator[Finding]:
    """An objective of 0% or a window of no time: no error budget can be counted."""
    if not 0 < slo.objective < 100:
        at = ("sli", "slo", "objective")
        message = f"objective {slo.objective}%: it must be above 0 and below 100"
        hint = "write the percentage of the window the SLI must be healthy, e.g. 99.9"
        yield Finding(where.at(at), dotted(at), message, hint)
    if slo.window <= 0:
        at = ("sli", "slo", "window")
        message = f"window {slo.window_text!r} is no time: the error budget would be zero"
        hint = "write the window the objective is measured over, e.g. 30d or 4w"
        yield Finding(where.at(at), dotted(at), message, hint)


def _backoff_past_cap(step: Step, where: Locator) -> Iterator[Finding]:
    retry = step.retry
    if retry.attempts > 1 and retry.backoff > retry.max_backoff:
        message = (
            f"retry backoff {format_seconds(retry.backoff)} is longer than max_backoff "
            f"{format_seconds(retry.max_backoff)}, which caps every delay"
        )
        hint = "lower backoff, or raise max_backoff (default 30s) to at least backoff"
        yield where.finding(step, ("retry", "backoff"), message, hint, ERROR)


def _recovery_before_detection(drill: Drill, where: Locator) -> Iterator[Finding]:
    """Both are counted from the injection, and recovery comes after detection."""
    detect = drill.detect_within or DEFAULT_DETECT_WITHIN
    recover = drill.recover_within
    if recover is not None and recover <= detect:
        at = ("drill", "recover_within")
        message = (
            f"recover_within {format_seconds(recover)} is not longer than detect_within "
            f"{format_seconds(detect)}: a fault detected late cannot be recovered in time"
        )
        hint = "both count from the injection: make recover_within the longer"
        yield Finding(where.at(at), dotted(at), message, hint, WARNING)


def _advice(playbook: Playbook, where: Locator) -> Iterable[Finding]:
    if playbook.metadata.maturity == 2 and playbook.sli is None:
        message = "no sli: a run cannot tell whether the service recovered"
        level = where.at(("metadata", "maturity"))
        yield Finding(level, "sli", message, "add an sli probe", WARNING)
    if not playbook.metadata.owner:
        hint = "say who maintains this playbook"
        yield Finding(where.at(("metadata",)), "metadata.owner", "no owner", hint, WARNING)
