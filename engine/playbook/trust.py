"""Whose playbook is this? A file that someone other than its runner (or root) could have
written is code they chose: `run` and `drill` refuse it before reading it, `plan` warns.
The rules are sshd's StrictModes (`engine.core.private_files.check_trusted_file`), for every
user: the file and every folder above it owned by the runner or root, and writable by
nobody else (a folder with the sticky bit, like /tmp, excepted)."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

from engine.core.private_files import UnsafePathError, check_trusted_file


def check_playbook_owner(file: str, executes: bool) -> None:
    """Refuse (UnsafePathError, exit 5) when the run `executes`; otherwise warn on stderr."""
    if not os.path.isfile(file):
        return  # reading it says what is wrong, at file:1:1
    try:
        check_trusted_file(Path(file))
    except UnsafePathError as exc:
        exc.message = f"playbook {file}: {exc.message}"
        if executes:
            raise
        with contextlib.suppress(OSError, ValueError):  # the run's lines come first
            sys.stdout.flush()
        warning = exc.render().replace("error: ", "warning: ", 1)
        print(f"{warning}\n  `runbook run` refuses it", file=sys.stderr)
