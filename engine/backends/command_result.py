"""A finished command judged against the step's `expect:` (exit codes, output), and the
value `capture:` stores. Shared by the local and remote command runners."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from msgspec import Struct

from engine.core.linear_regex import NotLinear, PatternTooLong, linear
from engine.core.results import SpecError, Status, StepResult


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
        if self.stdout_matches is not None and not linear(self.stdout_matches).search(stdout):
            return f"stdout does not match {self.stdout_matches!r}"
        return ""


def parse_expect(raw: Mapping[str, Any] | None) -> Expect:
    if not raw:
        return Expect()
    codes = raw.get("exit_code", 0)
    pattern = raw.get("stdout_matches")
    if pattern is not None:
        _check_linear(pattern)
    return Expect(
        exit_codes=tuple(codes) if isinstance(codes, list) else (int(codes),),
        stdout_contains=raw.get("stdout_contains"),
        stdout_matches=pattern,
    )


def _check_linear(pattern: str) -> None:
    """A command's output is not the author's text: its pattern must run in linear time."""
    try:
        linear(pattern)
    except re.error as exc:
        raise SpecError(
            f"stdout_matches is not a valid regex: {exc}", field_name="expect"
        ) from None
    except PatternTooLong as exc:  # not repeated back: it may be a megabyte
        raise SpecError(f"stdout_matches: {exc}", exc.hint, field_name="expect") from None
    except NotLinear as exc:
        message = f"stdout_matches {pattern!r} cannot be matched in linear time: {exc}"
        raise SpecError(message, exc.hint, field_name="expect") from None


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
