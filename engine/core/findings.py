"""Where a problem is (a file position) and what it is (a finding), as values."""

from __future__ import annotations

from msgspec import Struct


class Location(Struct, frozen=True):
    """A position in a source file (1-based line and column)."""

    file: str
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        if self.line:
            return f"{self.file}:{self.line}:{self.col}"
        return self.file


class Finding(Struct, frozen=True):
    """One problem found in a playbook."""

    location: Location
    path: str
    message: str
    hint: str = ""
    severity: str = "error"  # "error" | "warning"

    def render(self) -> str:
        where = f"{self.path}: " if self.path else ""
        level = "" if self.severity == "error" else f"{self.severity}: "
        text = f"{self.location}: {level}{where}{self.message}"
        return f"{text} — {self.hint}" if self.hint else text
