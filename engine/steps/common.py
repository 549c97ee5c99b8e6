"""Pieces shared by the command-running step types (shell, ssh)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from msgspec import Struct

from engine.steps.base import Renderer, SpecError, Status, StepResult

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")
_VALUE_NAME = re.compile(r"^RUNBOOK_V[0-9]+\Z")  # engine.core.shellsyntax.value_name


class Expect(Struct, frozen=True):
    """`expect:`: the exit codes and output a step must show to succeed."""

    exit_codes: tuple[int, ...] = (0,)
    stdout_contains: str | None = None
    stdout_matches: str | None = None

    def __str__(self) -> str:
        """For a human (the level-1 checklist): what a good result looks like."""
        parts = [f"exit code {' or '.join(str(code) for code in self.exit_codes)}"]
        if self.stdout_contains is not None:
            parts.append(f"output contains {self.stdout_contains!r}")
        if self.stdout_matches is not None:
            parts.append(f"output matches /{self.stdout_matches}/")
        return ", ".join(parts)

    def judge(self, exit_code: int, stdout: str) -> str:
        """Empty when the result meets expectations, else what is wrong."""
        if exit_code not in self.exit_codes:
            wanted = " or ".join(str(code) for code in self.exit_codes)
            return f"exit code {exit_code}, expected {wanted}"
        if self.stdout_contains is not None and self.stdout_contains not in stdout:
            return f"stdout does not contain {self.stdout_contains!r}"
        if self.stdout_matches is not None and not re.search(self.stdout_matches, stdout):
            return f"stdout does not match {self.stdout_matches!r}"
        return ""


def parse_expect(raw: Mapping[str, Any] | None) -> Expect:
    if not raw:
        return Expect()
    codes = raw.get("exit_code", 0)
    pattern = raw.get("stdout_matches")
    if pattern is not None:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise SpecError(
                f"stdout_matches is not a valid regex: {exc}", field_name="expect"
            ) from None
    return Expect(
        exit_codes=tuple(codes) if isinstance(codes, list) else (int(codes),),
        stdout_contains=raw.get("stdout_contains"),
        stdout_matches=pattern,
    )


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
        import shlex

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


def captured_value(stdout: str) -> Any:
    """What `capture:` stores: parsed JSON when stdout is JSON, else the stripped text.
    NaN and Infinity are not JSON (Python's parser takes them): such output stays text."""
    text = stdout.strip()
    if text[:1] in ("{", "["):
        try:
            return json.loads(text, parse_constant=_not_json)
        except ValueError:
            pass
    return text


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def command_result(
    exit_code: int | None, stdout: str, output: str, expect: Expect, timed_out: bool, capture: bool
) -> StepResult:
    """Turn a finished command into a StepResult judged against `expect`."""
    if timed_out or exit_code is None:
        status = Status.TIMED_OUT if timed_out else Status.UNKNOWN
        message = "timed out; the process group was killed" if timed_out else "no exit status"
        return StepResult(status, None, output, message)
    problem = expect.judge(exit_code, stdout)
    value = captured_value(stdout) if capture else None
    status = Status.FAILED if problem else Status.SUCCEEDED
    return StepResult(status, exit_code, output, problem, value=value)
