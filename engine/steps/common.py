"""Pieces shared by the command-running step types (shell, ssh)."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from typing import Any

from msgspec import Struct

from engine.core.rendering import Renderer
from engine.core.results import SpecError
from engine.steps.base import Detail

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")
_VALUE_NAME = re.compile(r"^RUNBOOK_V[0-9]+\Z")  # engine.core.shellsyntax.value_name


def parse_run(raw: Any) -> str | tuple[str, ...]:
    return tuple(str(part) for part in raw) if isinstance(raw, list) else str(raw)


class Command(Struct, frozen=True):
    """A rendered `run:`: what to start, the environment its values need, and what
    `plan` and the ledger show (byte for byte what runs)."""

    argv: list[str]
    values: Mapping[str, str]
    shown: str


def render_command(run: str | tuple[str, ...], render: Renderer) -> Command:
    """An argv list element by element; a string for `/bin/sh -c`, its values in the
    environment (`Renderer.shell`)."""
    if isinstance(run, tuple):
        argv = render.argv(run)
        return Command(argv, {}, shlex.join(argv))
    command = render.shell(run)
    return Command(command.argv, command.env, command.shown())


def checked_env(raw: Mapping[str, Any] | None, shell_names: bool) -> Mapping[str, str]:
    """`env:` as strings. No name may be empty or hold `=` or NUL (no process can be
    given one); with `shell_names` (exported by a shell), each must be a variable name."""
    env = {str(key): str(value) for key, value in (raw or {}).items()}
    for name in env:
        if _VALUE_NAME.match(name):
            raise SpecError(
                f"env name {name!r} is reserved: the engine passes a command's values in it",
                hint="choose another name",
                field_name="env",
            )
        if shell_names and not _ENV_NAME.match(name):
            raise SpecError(
                f"env name {name!r} is not a shell variable name",
                hint="use letters, digits and _ (not starting with a digit)",
                field_name="env",
            )
        if not name or "=" in name or "\0" in name:
            raise SpecError(
                f"env name {name!r} cannot be given to a process",
                hint="a name must not be empty or hold `=` or a NUL character",
                field_name="env",
            )
    return env


def sent_details(
    env: Mapping[str, str], stdin: str | None, render: Renderer, cwd: str | None = None
) -> list[Detail]:
    """A command's `details`: the working folder as written, the environment it is given
    (one `NAME=value` a line) and its stdin, rendered."""
    details = [Detail("cwd", render.text(cwd))] if cwd else []
    if env:
        lines = (f"{name}={render.text(value)}" for name, value in env.items())
        details.append(Detail("env", "\n".join(lines)))
    if stdin is not None:
        details.append(Detail("stdin", render.text(stdin)))
    return details
