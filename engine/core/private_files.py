"""Folders and files the engine keeps for itself: the ledger and its state folder, crash
logs, the cache. Each is created owner-only (folders 0700, files 0600) whatever the
umask, and used only when it is ours, as ssh's StrictModes has it: owned by this user,
writable by nobody else, not itself a symlink, and every folder above it owned by root
or this user and writable by nobody else (unless sticky, like /tmp). Otherwise whoever
could write there could rewrite what a later rollback executes, or plant a symlink that
makes this user (often root) write somewhere they chose.

`check_trusted_file` holds files the engine acts on but need not own (a playbook, an
SSH inventory, a known_hosts file, a kubeconfig) to the same rules, root's files allowed.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from engine.core.errors import RefusedError

__all__ = [
    "UnsafePathError",
    "check_private_descriptor",
    "check_private_file",
    "check_private_folder",
    "check_trusted_file",
    "open_private_file",
    "private_folder",
    "write_private_file",
]

FOLDER_MODE, FILE_MODE = 0o700, 0o600
_OTHERS_WRITE = stat.S_IWGRP | stat.S_IWOTH


class UnsafePathError(RefusedError):
    """A path that someone else could have written or redirected: nothing is done there."""


def private_folder(folder: Path) -> Path:
    """`folder`, created 0700 (with any missing parents) and checked to be ours alone."""
    folder = Path(os.path.abspath(folder))
    existing = _deepest_existing(folder)
    _check_above(existing / "_")  # before creating anything inside it
    for missing in reversed([folder, *folder.parents][: _depth_below(folder, existing)]):
        _make_folder(missing)
    check_private_folder(folder)  # a folder someone else made first is not taken for ours
    return folder


def check_private_folder(folder: Path) -> None:
    """Refuse an existing `folder` that is not ours alone, or lies below a folder others
    can write (the rules of `private_folder`, without creating anything)."""
    _check_above(folder)
    try:
        status = os.lstat(folder)
    except OSError as exc:
        raise _cannot_use(folder, exc) from exc
    _check_own(folder, status, "folder")


def check_private_descriptor(file: Path, fd: int) -> None:
    """Refuse the open file `fd` (of `file`) unless it is ours alone: a regular file of
    this user that nobody else can write."""
    _check_own(file, os.fstat(fd), "file")


def check_private_file(file: Path) -> None:
    """Refuse an existing `file` that is a symlink, not ours, or writable by others."""
    try:
        status = os.lstat(file)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise _cannot_use(file, exc) from exc
    _check_own(file, status, "file")


def open_private_file(file: Path, flags: int) -> int:
    """A descriptor of `file`, created 0600 if missing; an existing one must be ours alone."""
    try:
        fd = _create_exclusive(file, flags)
    except FileExistsError:
        try:
            fd = os.open(file, flags | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError as exc:  # ELOOP: a symlink
            check_private_file(file)
            raise _cannot_use(file, exc) from exc
    except OSError as exc:
        raise _cannot_use(file, exc) from exc
    try:
        check_private_descriptor(file, fd)
    except BaseException:
        os.close(fd)
        raise
    return fd


def write_private_file(file: Path, text: str) -> None:
    """Write a new file 0600 (refused if it already exists or is a symlink)."""
    fd = _create_exclusive(file, os.O_WRONLY)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def check_trusted_file(file: Path) -> None:
    """A file the engine executes but need not own (a playbook): it (followed to its real
    path) and every folder above it must be owned by root or this user and writable by
    nobody else, as sshd's StrictModes wants of authorized_keys."""
    _check_above(file)
    real = Path(os.path.realpath(file))
    try:
        status = os.stat(real)
    except OSError as exc:
        raise _cannot_use(real, exc) from exc
    _check_owner(real, status, "file", allow_root=True)
    if status.st_mode & _OTHERS_WRITE:
        raise _writable_by_others(real, status, "file")


def _create_exclusive(file: Path, flags: int) -> int:
    fd = os.open(file, flags | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE)
    os.fchmod(fd, FILE_MODE)  # the umask may have taken bits away
    return fd


def _make_folder(folder: Path) -> None:
    try:
        os.mkdir(folder, FOLDER_MODE)
    except FileExistsError:
        return  # another engine made it at the same moment; checked below
    except OSError as exc:
        raise _cannot_use(folder, exc) from exc
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        os.fchmod(fd, FOLDER_MODE)  # the umask may have taken bits away
    finally:
        os.close(fd)


def _deepest_existing(folder: Path) -> Path:
    for candidate in (folder, *folder.parents):
        if os.path.lexists(candidate):
            return candidate
    return Path(folder.anchor)


def _depth_below(folder: Path, ancestor: Path) -> int:
    return len(folder.parts) - len(ancestor.parts)


def _check_above(path: Path) -> None:
    """Every folder above `path`, on its written path and on its real one, and every
    symlink on the written path: owned by root or this user, writable by nobody else."""
    written = Path(os.path.abspath(path)).parents
    real = Path(os.path.realpath(path)).parents
    for folder in (*written, *real):
        try:
            status = os.lstat(folder)
        except OSError as exc:
            raise _cannot_use(folder, exc) from exc
        if stat.S_ISLNK(status.st_mode):
            _check_owner(folder, status, "symlink", allow_root=True)
        else:
            _check_folder_above(folder, status)


def _check_folder_above(folder: Path, status: os.stat_result) -> None:
    _check_owner(folder, status, "folder", allow_root=True)
    sticky = status.st_mode & stat.S_ISVTX
    if status.st_mode & _OTHERS_WRITE and not sticky:
        raise _writable_by_others(folder, status, "folder")


def _check_own(path: Path, status: os.stat_result, kind: str) -> None:
    """`path` itself (lstat): a real file or folder of this user that only it can write."""
    if stat.S_ISLNK(status.st_mode):
        raise UnsafePathError(
            f"the {kind} {path} is a symlink: the engine does not follow symlinks there",
            f"point RUNBOOK_HOME (or the path) at the real {kind}, or replace the symlink "
            f"with a {kind} of your own",
        )
    expected, what = (stat.S_ISDIR, "a folder") if kind == "folder" else (stat.S_ISREG, "a file")
    if not expected(status.st_mode):
        raise UnsafePathError(f"{path} is not {what}", "move it aside")
    _check_owner(path, status, kind, allow_root=False)
    if status.st_mode & _OTHERS_WRITE:
        raise _writable_by_others(path, status, kind)


def _check_owner(path: Path, status: os.stat_result, kind: str, allow_root: bool) -> None:
    uid = os.getuid()
    if status.st_uid == uid or (allow_root and status.st_uid == 0):
        return
    owners = "you or root" if allow_root else "you"
    raise UnsafePathError(
        f"the {kind} {path} is owned by uid {status.st_uid}, not {owners} (uid {uid}): "
        "whoever owns it could change what the engine reads or writes there",
        f"`chown {uid} {path}` if it is yours, or move it aside",
    )


def _writable_by_others(path: Path, status: os.stat_result, kind: str) -> UnsafePathError:
    mode = stat.S_IMODE(status.st_mode)
    return UnsafePathError(
        f"the {kind} {path} is writable by others (mode {mode:04o}): "
        "anyone who can write there could change what the engine reads or writes",
        f"`chmod go-w {path}`",
    )


def _cannot_use(path: Path, exc: OSError) -> UnsafePathError:
    return UnsafePathError(
        f"cannot use {path}: {exc.strerror or exc}",
        "check that it is a folder or file of yours, or set RUNBOOK_HOME to another folder",
    )
