"""Static check of commands: a template where no quoting can keep its value data.

A command string reaches `/bin/sh -c` with each value in the environment
(`engine.core.shellsyntax`); a template inside '…', a here-document, backquotes, arithmetic
or the script of another interpreter cannot be passed that way and is refused here, at
the template's line, before anything runs. In an argv list, a template in the script of
`sh -c`, `python3 -c`… (or in `eval`'s words, or `ssh`'s remote command) is refused the
same way. Which keys of a step's body (or a probe's spec) hold commands, or a command's
stdin, each step type and probe says (`command_fields`, `stdin_fields`).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

from msgspec import Struct

from engine.core.shellsyntax import (
    SLOT,
    analyse,
    code_arguments,
    code_place,
    script_hint,
    stdin_program,
)
from engine.playbook.template_syntax import SIMPLE_REFERENCE, parser
from engine.sli.registry import PROBES, probe_type
from engine.steps.registry import STEP_TYPES, step_type
from engine.templating.render import unsafe_error

if TYPE_CHECKING:
    from engine.model.yamlsource import Path

_PROBE = "probe"  # the key of `sli:` whose one entry is {probe type: spec}


class CommandProblem(Struct, frozen=True):
    """An unsafe template: the line of the template it is on (1 = its first), why, how."""

    line: int
    message: str
    hint: str


def is_stdin(path: Path) -> bool:
    """Whether the string at `path` is the stdin of a step's command."""
    if len(path) < 2 or _owned_by_probe(path):
        return False
    return str(path[-1]) in _stdin_fields(str(path[-2]))


def is_command(path: Path) -> bool:
    """Whether the string at `path` is a command string run by a shell."""
    if len(path) < 2:
        return False
    owner, key = str(path[-2]), str(path[-1])
    if _owned_by_probe(path):
        return key in _probe_command_fields(owner)
    return key in _step_command_fields(owner)


def _owned_by_probe(path: Path) -> bool:
    """Whether `path` is a key of the SLI probe's spec (`sli.probe.<type>.<key>`)."""
    return len(path) >= 3 and path[-3] == _PROBE


@lru_cache(maxsize=64)
def _step_command_fields(owner: str) -> frozenset[str]:
    return step_type(owner).command_fields if owner in STEP_TYPES else frozenset()


@lru_cache(maxsize=64)
def _stdin_fields(owner: str) -> frozenset[str]:
    return step_type(owner).stdin_fields if owner in STEP_TYPES else frozenset()


@lru_cache(maxsize=64)
def _probe_command_fields(owner: str) -> frozenset[str]:
    return probe_type(owner).command_fields if owner in PROBES else frozenset()


def argv_owner(path: Path) -> Path | None:
    """The path of the argv list whose element is at `path`, if it is one."""
    if len(path) >= 3 and isinstance(path[-1], int) and is_command(path[:-1]):
        return path[:-1]
    return None


@lru_cache(maxsize=4096)
def shell_problems(template: str) -> tuple[CommandProblem, ...]:
    """The templates of a command string that no quoting keeps data (cached per text)."""

    slotted, lines = _slotted(template)
    found = []
    for unsafe in analyse(slotted).unsafe:
        error = unsafe_error(unsafe)
        found.append(CommandProblem(lines[unsafe.slot], error.message, error.hint))
    return tuple(found)


def argv_problems(parts: Sequence[object]) -> list[tuple[int, str, str]]:
    """(index, message, hint) of each templated element of an argv list that another
    program runs as code (the script of `sh -c`…)."""

    words = [part if isinstance(part, str) else "" for part in parts]
    found = []
    for index, program in sorted(code_arguments(words).items()):
        if "{{" in words[index] or "{%" in words[index]:
            message = f"a template {code_place(program)}: its value could run as code"
            found.append((index, message, script_hint(program)))
    return found


def stdin_problem(body: object) -> tuple[str, str] | None:
    """(message, hint) when a step's templated `stdin:` is code for its program (`run:
    sh` or `psql db` reads stdin as code)."""

    run = body.get("run") if isinstance(body, dict) else None
    words = [str(w) for w in run] if isinstance(run, list) else str(run or "").split()
    program = stdin_program(words)
    if program is None:
        return None
    return (
        f"a template in the stdin of `{program}`: its value could run as code",
        "pass the value as an argument or in `env:` and let the script read it there "
        "(sh -s reads \"$1\"; psql -v name=… reads :'name')",
    )


def _slotted(template: str) -> tuple[str, list[int]]:
    """The template as the shell would see it, each `{{ }}` a SLOT (blocks dropped), and
    the template line of each slot. Plain references (`{{ inputs.x | trim }}`) are found
    with a regular expression; anything else is lexed by Jinja."""

    if "{%" not in template and "{{-" not in template and "-}}" not in template:
        lines = [
            template.count("\n", 0, m.start()) + 1 for m in SIMPLE_REFERENCE.finditer(template)
        ]
        slotted = SIMPLE_REFERENCE.sub(SLOT, template)
        if "{{" not in slotted:
            return slotted, lines
    return _lexed(template)


def _lexed(template: str) -> tuple[str, list[int]]:
    from jinja2 import TemplateError

    text: list[str] = []
    lines: list[int] = []
    inside = ""
    try:
        for line, kind, value in parser().lex(template):
            if kind in ("variable_begin", "block_begin"):
                inside = kind
                if kind == "variable_begin":
                    text.append(SLOT)
                    lines.append(line)
            elif kind in ("variable_end", "block_end"):
                inside = ""
            elif kind == "data" and not inside:
                text.append(value)
    except TemplateError:  # a syntax error: the reference check reports it
        return "", []
    return "".join(text), lines
