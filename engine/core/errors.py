"""Expected errors: each knows its exit code and renders as one line plus a hint."""

from __future__ import annotations

from enum import IntEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.core.findings import Finding, Location


class ExitCode(IntEnum):
    """Process exit codes; documented in the README."""

    OK = 0  # completed / recovered / valid
    FAILED = 1  # a step failed (rolled back), or a playbook is invalid
    USAGE = 2  # bad command line, or a playbook that cannot be run
    NOT_RECOVERED = 3
    ROLLBACK_FAILED = 4
    REFUSED = 5
    INCONCLUSIVE = 6  # runbook promote: no rule violated, not enough evidence yet
    INTERNAL = 70  # a bug: traceback written to a log file
    ABORTED = 130


class EngineError(Exception):
    """An expected failure: one line for the user, a hint, an exit code."""

    exit_code: ExitCode = ExitCode.USAGE

    def __init__(self, message: str, hint: str = "", location: Location | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.location = location

    def render(self) -> str:
        prefix = f"{self.location}: " if self.location else ""
        text = f"error: {prefix}{self.message}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class UsageError(EngineError):
    exit_code = ExitCode.USAGE


class RefusedError(EngineError):
    """Preconditions not met: nothing was executed."""

    exit_code = ExitCode.REFUSED


class LedgerError(EngineError):
    exit_code = ExitCode.USAGE


class InvalidPlaybook(EngineError):
    """A playbook failed validation; carries every finding."""

    exit_code = ExitCode.USAGE

    def __init__(self, findings: list[Finding] | None = None) -> None:
        self.findings = list(findings or ())
        super().__init__(self.findings[0].render() if self.findings else "invalid playbook")

    def render(self) -> str:
        return "\n".join(f.render() for f in self.findings)
