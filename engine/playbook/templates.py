"""Static check of every `{{ ... }}` in a playbook: each name it reads must exist
where it is used, and secrets never appear on a command line.

Simple references (`{{ inputs.name }}`, optionally with one filter) are read with
a regular expression; anything else is parsed by Jinja (imported only then).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.errors import Finding
from engine.playbook.schema import dotted
from engine.playbook.yamlsource import Path, Source

ROOTS_ALWAYS = frozenset({"inputs", "secrets", "alert", "run", "playbook"})
ROOTS_IN_STEPS = frozenset({"captures", "steps"})
_SIMPLE = re.compile(
    r"\{\{-?\s*([A-Za-z_]\w*(?:\.\w+|\[\s*'[^'\\]*'\s*\]|\[\s*\"[^\"\\]*\"\s*\])*)"
    r"\s*(?:\|\s*\w+\s*)?-?\}\}"
)
_PART = re.compile(r"\.(\w+)|\[\s*['\"]([^'\"]*)['\"]\s*\]")
COMMAND_KEYS = frozenset({"run"})


@dataclass
class Scope:
    """What a template may read at one point of the playbook."""

    inputs: frozenset[str]
    secrets: frozenset[str]
    captures: set[str] = field(default_factory=set)
    steps: set[str] = field(default_factory=set)
    in_steps: bool = False


def references(template: str) -> set[tuple[str, ...]]:
    """Dotted paths a template reads, e.g. {("inputs", "profile")}."""
    if "{%" not in template and "{#" not in template:
        simple = _simple_references(template)
        if simple is not None:
            return simple
    from engine.render import template_references

    return template_references(template)


def _simple_references(template: str) -> set[tuple[str, ...]] | None:
    found: set[tuple[str, ...]] = set()
    rest = _SIMPLE.sub(lambda m: _collect(m, found), template)
    return None if "{{" in rest else found


def _collect(match: re.Match[str], found: set[tuple[str, ...]]) -> str:
    expr = match.group(1)
    root = re.match(r"[A-Za-z_]\w*", expr)
    assert root is not None
    parts = [root.group(0)] + [a or b for a, b in _PART.findall(expr[root.end() :])]
    found.add(tuple(parts))
    return ""


class TemplateChecker:
    """Walks one playbook's raw data in execution order, collecting findings."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.findings: list[Finding] = []
        data = source.data
        self.inputs = frozenset((data.get("inputs") or {}).keys())
        self.secrets = frozenset((data.get("secrets") or {}).keys())

    def check(self) -> list[Finding]:
        data = self.source.data
        for key in ("targets", "sli", "kubernetes"):
            if key in data:
                self.walk(data[key], (key,), self.scope())
        self.check_steps(data.get("steps") or [], ("steps",))
        drill = data.get("drill") or {}
        for key in ("inject", "revert"):
            self.check_steps(drill.get(key) or [], ("drill", key))
        return self.findings

    def scope(self) -> Scope:
        return Scope(self.inputs, self.secrets)

    def check_steps(self, steps: list[Any], path: Path) -> None:
        scope = self.scope()
        scope.in_steps = True
        for index, step in enumerate(steps):
            if not isinstance(step, Mapping):
                continue
            where = (*path, index)
            if isinstance(step.get("when"), str):
                self.check_condition(step["when"], (*where, "when"), scope)
            body = {k: v for k, v in step.items() if k not in ("undo", "when")}
            self.walk(body, where, scope)
            scope.steps.add(str(step.get("id")))
            scope.captures.update(_captures(step))
            if "undo" in step:
                self.walk(step["undo"], (*where, "undo"), scope)

    def walk(self, node: Any, path: Path, scope: Scope) -> None:
        for value, at in _strings(node, path):
            if "{{" in value or "{%" in value:
                self.check_template(value, at, scope)

    def check_condition(self, expr: str, path: Path, scope: Scope) -> None:
        from engine.render import RenderError, compile_condition

        try:
            compile_condition(expr)
        except RenderError as exc:
            self.add(path, f"`when` does not parse: {exc.message}", "write a Jinja expression")
            return
        self.check_template("{{ " + expr + " }}", path, scope)

    def check_template(self, template: str, path: Path, scope: Scope) -> None:
        from engine.render import RenderError

        try:
            refs = references(template)
        except RenderError as exc:
            self.add(path, f"template does not parse: {exc.message}", exc.hint)
            return
        for ref in sorted(refs):
            self.check_reference(ref, path, scope)

    def check_reference(self, ref: tuple[str, ...], path: Path, scope: Scope) -> None:
        problem = _reference_problem(ref, scope)
        if problem:
            self.add(path, *problem)
        elif ref[0] == "secrets" and COMMAND_KEYS & {str(p) for p in path}:
            message = f"secret {'.'.join(ref)} on a command line is visible to every user (ps)"
            hint = "pass it through `env:` or `stdin:` and read $VARIABLE in the command"
            self.add(path, message, hint)

    def add(self, path: Path, message: str, hint: str = "") -> None:
        self.findings.append(Finding(self.source.at(path), dotted(path), message, hint))


def _reference_problem(ref: tuple[str, ...], scope: Scope) -> tuple[str, str] | None:
    root, name = ref[0], ref[1] if len(ref) > 1 else None
    known = {"inputs": scope.inputs, "secrets": scope.secrets}
    if root in known and name is not None and name not in known[root]:
        declared = ", ".join(sorted(known[root])) or "none"
        return f"undefined {root[:-1]} {name!r}", f"declare it under {root}: (declared: {declared})"
    if root in ROOTS_IN_STEPS:
        return _step_reference_problem(root, name, scope)
    if root not in ROOTS_ALWAYS:
        roots = ", ".join(sorted(ROOTS_ALWAYS | ROOTS_IN_STEPS))
        return f"undefined variable {root!r}", f"templates can read: {roots}"
    return None


def _step_reference_problem(root: str, name: str | None, scope: Scope) -> tuple[str, str] | None:
    if not scope.in_steps:
        return f"{root} are not available here", "only steps can read earlier steps' results"
    available = scope.captures if root == "captures" else scope.steps
    if name is None or name in available:
        return None
    what = "capture" if root == "captures" else "step"
    earlier = ", ".join(sorted(available)) or "none"
    return (
        f"{what} {name!r} is not produced by an earlier step",
        f"a step can only read what earlier steps produced (available: {earlier})",
    )


def _captures(step: Mapping[str, Any]) -> Iterator[str]:
    for value in step.values():
        if isinstance(value, Mapping) and isinstance(value.get("capture"), str):
            yield value["capture"]


def _strings(node: Any, path: Path) -> Iterator[tuple[str, Path]]:
    if isinstance(node, str):
        yield node, path
    elif isinstance(node, Mapping):
        for key, value in node.items():
            yield from _strings(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _strings(value, (*path, index))
