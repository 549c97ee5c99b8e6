"""Static check of every `{{ ... }}` in a playbook: each name it reads must exist
where it is used, it reads no private attribute, and secrets never appear on a
command line.

Simple references (`{{ inputs.name }}`, optionally with one filter) are read with
a regular expression; anything else is parsed by Jinja (imported only then). The
raw data may be any shape here (the schema reports wrong shapes): whatever is not
where a playbook has it is skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from collections.abc import Set as AbstractSet
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from engine.core.findings import Finding, Location
from engine.model.yamlsource import Path, Source, dotted
from engine.playbook.commands import (
    argv_owner,
    argv_problems,
    is_command,
    is_stdin,
    shell_problems,
    stdin_problem,
)
from engine.playbook.scope import Scope, reference_problem
from engine.playbook.template_syntax import SIMPLE_REFERENCE, parser
from engine.steps.registry import playbook_hooks
from engine.templating.render import (
    RenderError,
    compile_condition,
    condition_references,
    template_references,
)

if TYPE_CHECKING:
    pass

_PART = re.compile(r"\.(\w+)|\[\s*['\"]([^'\"]*)['\"]\s*\]")
_MAYBE_PRIVATE = re.compile(r"[.\[]\s*['\"]?_|attr")
_SYNTAX = re.compile(r"template syntax error \(line (\d+)\): ")
_WHEN_HINT = "write a Jinja expression, e.g. inputs.force or steps.check.exit_code == 0"
_TARGET_HINT = "name the target by inputs or plain text, e.g. 'db/{{ inputs.cluster }}'"
_PRIVATE_HINT = "templates may only read values: inputs, secrets, steps, captures, alert, run"
_USE_ENV_HINT = (
    "pass it in `env:` (e.g. TOKEN: '{{{{ secrets.{name} }}}}') and use \"$TOKEN\" in the command"
)


def references(template: str) -> set[tuple[str, ...]]:
    """Dotted paths a template reads, e.g. {("inputs", "profile")}."""
    if "{%" not in template:
        simple = _simple_references(template)
        if simple is not None:
            return simple

    return template_references(template)


def private_names(template: str) -> list[str]:
    """Attributes and keys starting with '_' that a template reads, in order of appearance."""
    if not _MAYBE_PRIVATE.search(template):
        return []
    from jinja2 import TemplateError, nodes

    try:
        tree = parser().parse(template)
    except TemplateError:  # reported by the reference check
        return []
    names = [node.attr for node in tree.find_all(nodes.Getattr)]
    names += [_const(node.arg) for node in tree.find_all(nodes.Getitem)]
    for node in tree.find_all(nodes.Filter):
        names += [_const(arg) for arg in node.args] if node.name == "attr" else []
    private = {name for name in names if name.startswith("_")}
    return sorted(private, key=template.find)


def _const(node: Any) -> str:
    value = getattr(node, "value", None)
    return value if isinstance(value, str) else ""


def _simple_references(template: str) -> set[tuple[str, ...]] | None:
    found: set[tuple[str, ...]] = set()
    rest = SIMPLE_REFERENCE.sub(lambda m: _collect(m, found), template)
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
        self.inputs = frozenset(map(str, _mapping(data.get("inputs"))))
        self.secrets = frozenset(map(str, _mapping(data.get("secrets"))))

    def check(self) -> list[Finding]:
        data = self.source.data
        for key in ("targets", "sli", *playbook_hooks()):  # and the blocks of step types
            if key in data:
                self.walk(data[key], (key,), Scope(self.inputs, self.secrets))
        self.check_steps(data.get("steps"), ("steps",))
        drill = _mapping(data.get("drill"))
        for key in ("inject", "revert"):
            self.check_steps(drill.get(key), ("drill", key))
        return self.findings

    def check_steps(self, raw: Any, path: Path) -> None:
        steps = {i: step for i, step in enumerate(_list(raw)) if isinstance(step, Mapping)}
        scope = Scope(self.inputs, self.secrets, in_steps=True)
        scope.later_steps = {_id(step) for step in steps.values()}
        scope.later_captures = {name: _id(s) for s in steps.values() for name in _captures(s)}
        for index, step in steps.items():
            self.check_step(step, (*path, index), scope)

    def check_step(self, step: Mapping[str, Any], where: Path, scope: Scope) -> None:
        if isinstance(step.get("when"), str):
            self.check_condition(step["when"], (*where, "when"), scope)
        self.walk({k: v for k, v in step.items() if k not in ("undo", "when")}, where, scope)
        scope.produced(_id(step), list(_captures(step)))
        if "undo" in step:
            self.walk(step["undo"], (*where, "undo"), scope)

    def walk(self, node: Any, path: Path, scope: Scope) -> None:
        found: list[tuple[str, Path]] = []
        _templates(node, list(path), found)
        argv_lists: set[Path] = set()
        for value, at in found:
            self.check_template(value, at, scope)
            self.check_command(value, at, argv_lists)

    def check_command(self, template: str, path: Path, argv_lists: set[Path]) -> None:
        """A template no quoting keeps data in a command (`engine.playbook.commands`)."""
        if is_command(path):
            start = self.source.at(path)
            for problem in shell_problems(template):
                where = _block_line(self.source.text, start, problem.line)
                self.findings.append(Finding(where, dotted(path), problem.message, problem.hint))
            return
        if is_stdin(path):
            code = stdin_problem(_value_at(self.source.data, path[:-1]))
            if code is not None:
                self.add(path, *code)
            return
        owner = argv_owner(path)
        if owner is None or owner in argv_lists:
            return
        argv_lists.add(owner)
        for index, message, hint in argv_problems(_list(_value_at(self.source.data, owner))):
            self.add((*owner, index), message, hint)

    def check_condition(self, expr: str, path: Path, scope: Scope) -> None:
        refs = _condition_references(expr)
        if isinstance(refs, tuple):
            message, hint = refs
            syntax = _SYNTAX.match(message)
            message = message[syntax.end() :] if syntax else message
            self.add(path, f"`when` does not parse: {message}", _WHEN_HINT if syntax else hint)
            return
        self.check_references("{{ " + expr + " }}", refs, path, scope)

    def check_template(self, template: str, path: Path, scope: Scope) -> None:
        refs = _template_references(template)
        if isinstance(refs, tuple):
            self.add_syntax_error(*refs, path)
            return
        self.check_references(template, refs, path, scope)

    def check_references(
        self, template: str, refs: AbstractSet[tuple[str, ...]], path: Path, scope: Scope
    ) -> None:
        private = [name for name in _private_names(template) if not scope.is_key(name)]
        if private:
            names = ", ".join(map(repr, private))
            message = f"template reads {names}: the sandbox refuses names starting with '_'"
            self.add(path, message, _PRIVATE_HINT)
        for ref in sorted(refs):
            if not set(ref) & set(private):  # already reported
                self.check_reference(ref, path, scope)

    def check_reference(self, ref: tuple[str, ...], path: Path, scope: Scope) -> None:
        problem = reference_problem(ref, scope)
        if problem:
            self.add(path, *problem)
        elif ref[0] == "secrets" and _on_command_line(path):
            name = ref[1] if len(ref) > 1 else "…"
            what = f"secret {name!r}" if len(ref) > 1 else "a secret read by a computed name"
            message = f"{what} on a command line is visible to every local user (ps)"
            self.add(path, message, _USE_ENV_HINT.format(name=name))
        elif ref[0] == "secrets" and path[0] == "targets":
            what = f"secret {ref[1]!r}" if len(ref) > 1 else "a secret"
            message = f"{what} in a target: lock keys are listed in the clear"
            self.add(path, message, _TARGET_HINT)

    def add_syntax_error(self, message: str, hint: str, path: Path) -> None:
        """At the template's own line when it is a `|` block of several lines."""
        match = _SYNTAX.match(message)
        line = int(match.group(1)) if match else 1
        where = self.source.at(path)
        if match:
            message = f"template syntax error: {message[match.end() :]}"
            where = _block_line(self.source.text, where, line)
        self.findings.append(Finding(where, dotted(path), message, hint))

    def add(self, path: Path, message: str, hint: str = "") -> None:
        self.findings.append(Finding(self.source.at(path), dotted(path), message, hint))


def _block_line(text: str, start: Location, line: int) -> Location:
    """Line `line` of a literal block scalar (`run: |`) that starts at `start`."""
    lines = text.split("\n")
    header = lines[start.line - 1][start.col - 1 :] if start.line <= len(lines) else ""
    target = start.line + line
    if not header.startswith("|") or target > len(lines):
        return start
    content = lines[target - 1]
    return Location(start.file, target, len(content) - len(content.lstrip(" ")) + 1)


def _on_command_line(path: Path) -> bool:
    """A command string, or a word of a command's argv (its `env:` and stdin are safe)."""
    return is_command(path) or argv_owner(path) is not None


def _value_at(data: Any, path: Path) -> Any:
    for key in path:
        data = data[key]
    return data


def _id(step: Mapping[str, Any]) -> str:
    return str(step.get("id", ""))


def _mapping(value: Any) -> Mapping[Any, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _captures(step: Mapping[str, Any]) -> Iterator[str]:
    for value in step.values():
        if isinstance(value, Mapping) and isinstance(value.get("capture"), str):
            yield value["capture"]


def _templates(node: Any, path: list[str | int], found: list[tuple[str, Path]]) -> None:
    """Every string under `node` that holds `{{` or `{%`, with its path, in order."""
    if isinstance(node, str):
        if "{{" in node or "{%" in node:
            found.append((node, tuple(path)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            path.append(index)
            _templates(value, path, found)
            path.pop()
    elif type(node) is dict or isinstance(node, Mapping):
        for key, value in node.items():
            path.append(key)
            _templates(value, path, found)
            path.pop()


# What a template or condition reads depends only on its text, and playbooks repeat
# the same ones (`{{ inputs.host }}`, `steps.check.exit_code == 0`): each distinct text
# is parsed once. A text that does not parse gives (message, hint) of its RenderError.
Refs = frozenset[tuple[str, ...]]


@lru_cache(maxsize=4096)
def _template_references(template: str) -> Refs | tuple[str, str]:
    try:
        return frozenset(references(template))
    except RenderError as exc:
        return exc.message, exc.hint


@lru_cache(maxsize=4096)
def _condition_references(expr: str) -> Refs | tuple[str, str]:
    try:
        compile_condition(expr)
        return frozenset(condition_references(expr))
    except RenderError as exc:
        return exc.message, exc.hint


@lru_cache(maxsize=4096)
def _private_names(template: str) -> tuple[str, ...]:
    return tuple(private_names(template))
