"""Writing a file a person named (`-o FILE`, `--report FILE`): in one piece or not at
all, and only ever as a regular file.

The text goes into a new file beside the target, synced to disk, then renamed over the
target (when it may be replaced) or hard-linked to it (when it may not: an existing file
is then never replaced, even one that appeared meanwhile). A target that is a device, a
FIFO, a socket, a folder or a symbolic link is refused: renaming over it would replace
the node itself (`-o /dev/stdout` would replace the system's link with the report).
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

from engine.core.errors import UsageError
from engine.core.regular_file import special_kind

PRIVATE = 0o600  # reports, bundles and cases hold what a run recorded


def other_than_a_file(target: Path) -> str | None:
    """What `target` is when it is there and is not a regular file ("a character device",
    "a symlink", …); None for a regular file or nothing there."""
    kind = special_kind(target)  # through a link: what it points to
    if kind is not None:
        return kind
    try:
        return "a symlink" if stat.S_ISLNK(target.lstat().st_mode) else None
    except OSError:
        return None


def check_output(target: Path, force: bool, option: str = "--force") -> None:
    """UsageError (exit 2) unless `target` can be written now: a regular file or nothing
    there (a file only with `force`), in a folder that is there."""
    kind = other_than_a_file(target)
    if kind is not None:
        raise UsageError(f"cannot write {target}: it is {kind}, not a file", "name a file")
    if not force and os.path.lexists(target):
        raise UsageError(f"{target} already exists", f"add {option} to replace it")
    hint = "name a file in a folder you can write"
    folder = target.parent
    if not folder.is_dir():
        raise UsageError(f"cannot write {target}: there is no folder {folder}", hint)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write {target}: the folder {folder} is not writable", hint)


def write_output(
    target: Path,
    data: str | bytes,
    force: bool,
    option: str = "--force",
    mode: int = PRIVATE,
) -> None:
    """`data` into `target` with `mode`, in one piece; an existing file only with `force`
    (UsageError naming `option` otherwise), never anything but a regular file."""
    check_output(target, force, option)
    try:
        descriptor, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    except OSError as exc:
        raise UsageError(
            f"cannot write {target}: {exc.strerror}", "name a file in a folder you can write"
        ) from None
    try:
        _fill(descriptor, data, mode)
        kind = other_than_a_file(target)  # one may have appeared meanwhile
        if kind is not None:
            raise UsageError(f"cannot write {target}: it is {kind} now, left as it is")
        if force:
            os.replace(temporary, target)
        else:
            os.link(temporary, target)
    except FileExistsError:
        raise UsageError(f"{target} already exists", f"add {option} to replace it") from None
    except OSError as exc:
        raise UsageError(f"cannot write {target}: {exc.strerror}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


def _fill(descriptor: int, data: str | bytes, mode: int) -> None:
    """Write `data` to the new file and sync it to disk, with `mode` whatever the umask."""
    os.fchmod(descriptor, mode)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    with os.fdopen(descriptor, "wb") as out:
        out.write(payload)
        out.flush()
        os.fsync(out.fileno())
