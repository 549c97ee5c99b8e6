"""The user's private cache directory: $XDG_CACHE_HOME/runbook-engine, else
~/.cache/runbook-engine. What is cached there is executed or unpickled, so an entry is
used only when the directory and the file are ours and writable by nobody else, and is
written atomically. A cache that cannot be read or written only costs the work it saves.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import tempfile
from pathlib import Path

from engine.core.private_files import UnsafePathError, private_folder

__all__ = ["cache_dir", "is_private", "keep_newest", "read_private", "touch", "write_atomically"]

_APP = "runbook-engine"


def cache_dir() -> Path | None:
    """The cache directory, created private (0700, parents too); None if unusable. One
    that is not ours alone (`engine.core.private_files`) is not used, and said so once."""

    base = os.environ.get("XDG_CACHE_HOME", "")
    try:
        root = Path(base) if os.path.isabs(base) else Path.home() / ".cache"
        return private_folder(root / _APP)
    except UnsafePathError as exc:
        _warn_once(exc.render().replace("error: ", "warning: cache not used: ", 1))
        return None
    except (OSError, RuntimeError):
        return None


_warned: set[str] = set()


def _warn_once(text: str) -> None:
    if text not in _warned:
        _warned.add(text)
        print(text, file=sys.stderr)


def is_private(path: Path) -> bool:
    """Ours, not a symlink, and writable by nobody else."""
    status = path.lstat()
    private = status.st_uid == os.getuid() and not status.st_mode & 0o022
    return private and not stat.S_ISLNK(status.st_mode)


def read_private(file: Path) -> bytes | None:
    """The bytes of a private cache file; None when missing, unreadable, a symlink or not
    private."""
    try:
        with open(os.open(file, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC), "rb") as handle:
            status = os.fstat(handle.fileno())
            if status.st_uid != os.getuid() or status.st_mode & 0o022:
                return None
            return handle.read()
    except OSError:
        return None


def write_atomically(file: Path, data: bytes) -> None:
    """So that a concurrent reader sees the whole file or none; errors are ignored."""

    try:
        fd, temp = tempfile.mkstemp(dir=file.parent, prefix=".entry-", suffix=".tmp")
    except OSError:
        return
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temp, file)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(temp)


def touch(file: Path) -> None:
    """Mark an entry as just used, so that `keep_newest` keeps it; errors are ignored."""
    with contextlib.suppress(OSError):
        os.utime(file)


def keep_newest(directory: Path, pattern: str, keep: int) -> None:
    """Delete all but the `keep` most recently used files matching `pattern`."""
    try:
        entries = [(path.stat().st_mtime_ns, path) for path in directory.glob(pattern)]
    except OSError:
        return
    entries.sort(reverse=True)
    for _, path in entries[keep:]:
        with contextlib.suppress(OSError):
            path.unlink()
