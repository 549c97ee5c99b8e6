"""The closed set of run outcomes and their exit codes (documented in the README)."""

from __future__ import annotations

from enum import StrEnum

from engine.core.errors import ExitCode


class Outcome(StrEnum):
    RECOVERED = "recovered"
    COMPLETED = "completed"
    NOT_RECOVERED = "not_recovered"
    FAILED = "failed"
    ROLLBACK_FAILED = "rollback_failed"
    ABORTED = "aborted"
    REFUSED = "refused"
    INTERRUPTED = "interrupted"

    @property
    def exit_code(self) -> ExitCode:
        return _EXIT_CODES[self]


_EXIT_CODES = {
    Outcome.RECOVERED: ExitCode.OK,
    Outcome.COMPLETED: ExitCode.OK,
    Outcome.NOT_RECOVERED: ExitCode.NOT_RECOVERED,
    Outcome.FAILED: ExitCode.FAILED,
    Outcome.ROLLBACK_FAILED: ExitCode.ROLLBACK_FAILED,
    Outcome.ABORTED: ExitCode.ABORTED,
    Outcome.REFUSED: ExitCode.REFUSED,
    Outcome.INTERRUPTED: ExitCode.FAILED,
}
