"""Reading the files a playbook names: only regular files, never waiting on one.

`open()` of a FIFO blocks until someone writes to it, and a character device such as
/dev/zero never ends. Every file the engine reads for a playbook (the playbook itself,
the inventory, a secret's `file:`, a manifest, a kubeconfig, known_hosts) is opened
without blocking and refused unless it is a regular file (RELIABILITY.md #15).
"""

from __future__ import annotations

import errno
import os
import stat

_KINDS = {
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
    stat.S_IFDIR: "a folder",
}


class NotARegularFile(OSError):
    """The path exists but is a FIFO, a device, a socket or a folder."""


def read_regular(path: str | os.PathLike[str], limit: int = -1) -> bytes:
    """The bytes of the regular file at `path` (at most `limit` + 1 of them when a limit
    is given, so that a caller can tell the file was larger); OSError otherwise."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        kind = _KINDS.get(stat.S_IFMT(mode), "something else")
        raise NotARegularFile(errno.EINVAL, f"not a regular file but {kind}", str(path))
    with os.fdopen(fd, "rb") as handle:
        return handle.read() if limit < 0 else handle.read(limit + 1)


def check_regular(path: str | os.PathLike[str]) -> None:
    """OSError unless `path` is a regular file (for a library that opens it itself)."""
    read_regular(path, limit=0)


def read_regular_text(path: str | os.PathLike[str], errors: str = "strict") -> str:
    """`read_regular` decoded as UTF-8 (UnicodeDecodeError with `errors="strict"`)."""
    return read_regular(path).decode("utf-8", errors)


def special_kind(path: str | os.PathLike[str]) -> str | None:
    """What `path` is (links followed) when it is there but is not a regular file, such
    as "a character device" (/dev/stdout); None for a regular file or nothing there. A
    writer that renames a new file over `path` would replace the device's link instead."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None
    if stat.S_ISREG(mode):
        return None
    return _KINDS.get(stat.S_IFMT(mode), "something else")
