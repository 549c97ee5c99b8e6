"""The playbooks `runbook serve` answers alerts with: a folder, read again when it changes.

A file is checked again only when its size or modification time changed, so a server
picks up an edited playbook at the next alert without a restart, at the cost of one
`stat` per file. At start every playbook must be valid (a broken one would drop its
alerts unseen); a file broken later is left out, logged, and shown by `/readyz`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from msgspec import Struct

from engine.core.errors import EngineError, UsageError
from engine.model.playbook import Playbook
from engine.model.textfile import read_bounded
from engine.modes.validate import candidate_files, only_not_a_playbook, render_text
from engine.playbook.loader import CheckReport, check_file


class _Checked(Struct, frozen=True):
    report: CheckReport
    text: str  # what was checked: a run reuses the model while the file still holds it


class _Stamp(Struct, frozen=True):
    size: int
    mtime_ns: int


class Catalog:
    """The valid playbooks of one folder that declare triggers, kept up to date."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self._seen: dict[str, tuple[_Stamp, _Checked]] = {}

    def load(self) -> list[Playbook]:
        """Read every playbook; UsageError (exit 2) naming each problem if one is invalid."""
        playbooks = self.refresh()
        broken = self.invalid()
        if broken:
            raise UsageError(
                f"{len(broken)} playbook(s) in {self.directory} are invalid:\n"
                + render_text(broken, strict=False).rstrip(),
                hint="fix them (runbook validate) before serving alerts",
            )
        return playbooks

    def refresh(self) -> list[Playbook]:
        """The valid playbooks with triggers, checking again only files that changed."""
        files = [file for file, _ in candidate_files([self.directory])]
        current: dict[str, tuple[_Stamp, _Checked]] = {}
        for file in files:
            stamp = _stamp(file)
            if stamp is None:
                continue
            seen = self._seen.get(file)
            current[file] = seen if seen and seen[0] == stamp else (stamp, _checked(file))
        self._seen = current
        return [
            checked.report.playbook
            for _, checked in current.values()
            if checked.report.playbook is not None
            and checked.report.ok()
            and checked.report.playbook.metadata.triggers
        ]

    def text_of(self, playbook: Playbook) -> str | None:
        """The text `playbook` was checked from, while the catalog holds it."""
        seen = self._seen.get(playbook.file)
        return seen[1].text if seen and seen[1].report.playbook is playbook else None

    def invalid(self) -> Sequence[CheckReport]:
        """The files that are playbooks and not valid, as last read."""
        return [
            checked.report
            for _, checked in self._seen.values()
            if not checked.report.ok() and not only_not_a_playbook(checked.report)
        ]

    def invalid_files(self) -> list[str]:
        return [report.file for report in self.invalid()]


def _checked(file: str) -> _Checked:
    try:
        text = read_bounded(file)
    except (OSError, EngineError):  # check_file says what is wrong with it
        return _Checked(check_file(file), "")
    return _Checked(check_file(file, text), text)


def _stamp(file: str) -> _Stamp | None:
    try:
        status = os.stat(Path(file))
    except OSError:  # removed since the folder was listed
        return None
    return _Stamp(status.st_size, status.st_mtime_ns)
