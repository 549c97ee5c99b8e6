"""Binding command-line strings to a playbook's declared inputs.

Quoting does not stop option injection (`shlex.quote('-rf')` is `-rf`), so inputs are
typed and checked before anything runs (RELIABILITY.md #2): a declared type, a pattern
(ECMA-262, the dialect of JSON Schema and editors, run by RE2 in time linear in the
value, engine.playbook.ecma.linear) that must match the whole value,
an allowed set, no leading `-` unless declared, and no NUL (which no argument or
environment variable can carry: the step would fail only when it starts).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from engine.core.errors import EngineError, ExitCode
from engine.playbook import ecma

if TYPE_CHECKING:
    from engine.model.playbook import InputSpec

_BOOLEANS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
_INTEGER = re.compile(r"[+-]?[0-9]+")
_NUMBER = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")
_ABSENT = object()


class InputError(EngineError):
    """Inputs that do not fit the declarations: one message line per problem."""

    exit_code = ExitCode.USAGE

    def __init__(self, problems: Sequence[str], hint: str = "") -> None:
        super().__init__("\n".join(problems), hint)
        self.problems = tuple(problems)


def parse_assignments(pairs: Sequence[str]) -> dict[str, str]:
    """Turn `-i NAME=VALUE` option values into a dict (the value may contain `=`)."""
    given: dict[str, str] = {}
    problems: list[str] = []
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            problems.append(f"-i {_show(pair)}: expected NAME=VALUE")
        elif name in given:
            problems.append(f"input '{name}' is given twice")
        else:
            given[name] = value
    if problems:
        raise InputError(problems, hint="pass each input once, as -i NAME=VALUE")
    return given


def bind_inputs(specs: Mapping[str, InputSpec], given: Mapping[str, str]) -> dict[str, Any]:
    """Typed input values: given strings parsed by declared type, defaults filled in.

    An input that is neither given nor defaulted (and not required) is left out, so a
    template that uses it fails as undefined instead of rendering an empty argument.
    Every problem is collected and raised together as one `InputError`.
    """
    problems = [f"unknown input '{name}'" for name in given if name not in specs]
    bound: dict[str, Any] = {}
    for name, spec in specs.items():
        value, found = _bind_one(name, spec, given.get(name))
        problems.extend(found)
        if value is not _ABSENT and not found:
            bound[name] = value
    if problems:
        raise InputError(problems, hint=_declared(specs))
    return bound


def _bind_one(name: str, spec: InputSpec, raw: str | None) -> tuple[Any, list[str]]:
    """The value of one input (or `_ABSENT`) and the problems found with it."""
    if raw is None and spec.default is None:
        return _ABSENT, [f"input '{name}' is required"] if spec.required else []
    source = spec.default if raw is None else raw
    try:
        value = _convert(spec.type, source)
    except ValueError as exc:
        return _ABSENT, [f"input '{name}': {exc}"]
    return value, [f"input '{name}': {problem}" for problem in _check(spec, value)]


def _convert(kind: str, raw: Any) -> Any:
    """Parse a command-line string by type; check that a YAML default already has it."""
    if kind not in _TYPES:
        raise ValueError(f"unknown type {kind!r} (use string, integer, number or boolean)")
    parse, is_type = _TYPES[kind]
    if isinstance(raw, str):
        return parse(raw)
    if not is_type(raw):
        raise ValueError(f"{_show(raw)} is not a{'n' if kind == 'integer' else ''} {kind}")
    return raw


def _parse_integer(text: str) -> int:
    if not _INTEGER.fullmatch(text):
        raise ValueError(f"{_show(text)} is not an integer")
    try:
        return int(text)
    except ValueError:  # more digits than Python converts
        raise ValueError(f"{_show(text)} is too large") from None


def _parse_number(text: str) -> int | float:
    if _INTEGER.fullmatch(text):
        return _parse_integer(text)
    if not _NUMBER.fullmatch(text) or not math.isfinite(float(text)):
        raise ValueError(f"{_show(text)} is not a number")
    return float(text)


def _parse_boolean(text: str) -> bool:
    try:
        return _BOOLEANS[text.lower()]
    except KeyError:
        raise ValueError(f"{_show(text)} is not a boolean (true/false/yes/no/1/0)") from None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


_TYPES: dict[str, tuple[Callable[[str], Any], Callable[[Any], bool]]] = {
    "string": (str, lambda value: isinstance(value, str)),
    "integer": (_parse_integer, lambda value: type(value) is int),
    "number": (_parse_number, _is_number),
    "boolean": (_parse_boolean, lambda value: isinstance(value, bool)),
}


def _check(spec: InputSpec, value: Any) -> list[str]:
    """Problems with a typed value: a NUL, leading dash, pattern, allowed set."""
    problems: list[str] = []
    if isinstance(value, str) and "\0" in value:
        problems.append(
            f"{_show(value)} holds a NUL character, which no command argument or"
            " environment variable can carry"
        )
    if isinstance(value, str) and value.startswith("-") and not spec.allow_leading_dash:
        problems.append(
            f"{_show(value)} starts with '-' and could be read as an option"
            " (declare `allow_leading_dash: true` if it is meant)"
        )
    if isinstance(value, str) and spec.pattern is not None:
        problems.extend(_check_pattern(value, spec.pattern))
    if spec.enum and value not in spec.enum:
        problems.append(f"{_show(value)} is not one of {', '.join(map(_show, spec.enum))}")
    return problems


def _check_pattern(value: str, pattern: str) -> list[str]:
    """The whole value must match; the pattern is ECMA-262, as in JSON Schema."""

    try:
        matched = ecma.full_match(pattern, value)
    except ecma.PatternError as exc:
        return [f"the declared pattern {pattern!r} is not an ECMA-262 regular expression ({exc})"]
    except ecma.NotLinear as exc:
        return [f"the declared pattern {pattern!r} cannot be matched in linear time ({exc})"]
    return [] if matched else [f"{_show(value)} does not match the pattern {pattern}"]


def _declared(specs: Mapping[str, InputSpec]) -> str:
    """A hint listing the declared inputs."""
    if not specs:
        return "this playbook declares no inputs"
    return "declared inputs: " + ", ".join(_describe(name, spec) for name, spec in specs.items())


def _describe(name: str, spec: InputSpec) -> str:
    if spec.default is not None:
        return f"{name} ({spec.type}, default {_show(spec.default)})"
    return f"{name} ({spec.type}{', required' if spec.required else ''})"


def _show(value: Any, limit: int = 60) -> str:
    """A value for an error message, shortened."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
