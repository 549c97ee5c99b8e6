"""Starting a local process in a session of its own, with pipes for its output.

`posix_spawn(3)` when it can do everything asked, `subprocess.Popen` otherwise. Both
start the same process: the program found on PATH with argv as written, stdin from a
pipe or /dev/null, stdout and stderr to pipes, a new session (so a timeout can kill the
whole group), SIGPIPE and SIGXFSZ back to their defaults, and no other descriptor of the
engine's. Popen pays ~0.15 ms of Python per process for generality (an error pipe,
descriptor juggling, bookkeeping): a tenth of a step. When the child's PATH is the
engine's own, `posix_spawnp` searches it (in the child, as Popen would); otherwise the
engine searches the child's PATH and starts the file it found. posix_spawn cannot change
directory (Python exposes no `addchdir`), so a step with `cwd` uses Popen, and so does
a name that neither search starts: Popen's own search then names the error.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Mapping
from typing import IO, TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import subprocess

__all__ = ["Child", "Pipe", "spawn", "spawn_on_path"]

_DEFAULT_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGPIPE", "SIGXFSZ") if hasattr(signal, name)
)


class Pipe(Protocol):
    """The read end of an output pipe, as the engine uses it (a file object has more)."""

    def fileno(self) -> int: ...

    def close(self) -> None: ...


class Child(Protocol):
    """What the engine uses of a started process: `subprocess.Popen` has all of it."""

    @property
    def pid(self) -> int: ...

    @property
    def stdin(self) -> IO[bytes] | None: ...

    @property
    def stdout(self) -> Pipe | None: ...

    @property
    def stderr(self) -> Pipe | None: ...

    @property
    def returncode(self) -> int | None: ...

    def poll(self) -> int | None: ...

    def wait(self) -> int: ...


def spawn(
    argv: list[str],
    executable: str | None,
    env: Mapping[str, str] | None,
    cwd: str | None,
    with_stdin: bool,
) -> Child:
    """Start `argv`: `executable` is the file a PATH search found, or None to let Popen
    search. Raises OSError, like Popen, when it cannot be started."""
    if executable is not None and cwd is None and hasattr(os, "posix_spawn"):
        with contextlib.suppress(NotImplementedError):  # a libc without POSIX_SPAWN_SETSID
            return _posix_spawn(argv, executable, _environment(env), with_stdin)
    return _popen(argv, executable, env, cwd, with_stdin)


def spawn_on_path(argv: list[str], env: Mapping[str, str] | None, with_stdin: bool) -> Child | None:
    """Start `argv` with `posix_spawnp`: libc searches the engine's PATH in the child, a
    failed `execve` per directory before the match (about 20 µs a start less than the same
    search made in Python). For a child whose PATH is the engine's. None when it cannot
    start it this way, for any reason: the caller's search and Popen then decide, and
    name the error."""
    if not hasattr(os, "posix_spawnp"):
        return None
    try:
        return _posix_spawn(argv, argv[0], _environment(env), with_stdin, search=True)
    except (OSError, NotImplementedError):
        return None


def _popen(
    argv: list[str],
    executable: str | None,
    env: Mapping[str, str] | None,
    cwd: str | None,
    with_stdin: bool,
) -> subprocess.Popen[bytes]:
    import subprocess  # only for a `cwd` or a failed start: most steps never need it

    return subprocess.Popen(
        argv,
        executable=executable,
        stdin=subprocess.PIPE if with_stdin else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=cwd,
        env=env,
        start_new_session=True,
    )


class ReadEnd:
    """A pipe's read end as a bare descriptor: read with os.read, no file object needed."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def fileno(self) -> int:
        return self.fd

    def close(self) -> None:
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            os.close(fd)


class SpawnedChild:
    """A process started by posix_spawn, with Popen's poll / wait / returncode."""

    def __init__(self, pid: int, stdin: IO[bytes] | None, stdout: ReadEnd, stderr: ReadEnd) -> None:
        self.pid = pid
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self._reap(os.WNOHANG)
        return self.returncode

    def wait(self) -> int:
        while self.returncode is None:
            self._reap(0)
        return self.returncode

    def _reap(self, options: int) -> None:
        try:
            pid, status = os.waitpid(self.pid, options)
        except ChildProcessError:  # reaped elsewhere (as Popen does: status unknown, 0)
            self.returncode = 0
            return
        if pid == self.pid:
            self.returncode = os.waitstatus_to_exitcode(status)


def _environment(env: Mapping[str, str] | None) -> Mapping[Any, Any]:
    """`env`, or the engine's own environment as posix_spawn reads it fastest: the bytes
    dict behind `os.environ` (kept current by it), not `os.environ` itself, which decodes
    every name and value on each read (about 30 µs a start with 35 variables)."""
    if env is not None:
        return env
    data = getattr(os.environ, "_data", None)
    return data if isinstance(data, dict) else os.environ


def _posix_spawn(
    argv: list[str], executable: str, env: Mapping[Any, Any], with_stdin: bool, search: bool = False
) -> SpawnedChild:
    _seal_inherited()
    ends: list[int] = []  # every descriptor made here, closed on failure
    try:
        child_in, parent_in = _stdin(ends, with_stdin)
        out_read, out_write = _pipe(ends)
        err_read, err_write = _pipe(ends)
        actions = [
            (os.POSIX_SPAWN_DUP2, child_in, 0),
            (os.POSIX_SPAWN_DUP2, out_write, 1),
            (os.POSIX_SPAWN_DUP2, err_write, 2),
        ]
        start = os.posix_spawnp if search else os.posix_spawn
        pid = start(
            executable, argv, env, file_actions=actions, setsid=True, setsigdef=_DEFAULT_SIGNALS
        )
    except BaseException:
        for fd in ends:
            with contextlib.suppress(OSError):
                os.close(fd)
        raise
    for fd in (child_in, out_write, err_write):
        os.close(fd)
    stdin = os.fdopen(parent_in, "wb") if parent_in is not None else None
    return SpawnedChild(pid, stdin, ReadEnd(out_read), ReadEnd(err_read))


def _pipe(ends: list[int]) -> tuple[int, int]:
    read, write = os.pipe()  # close-on-exec: only the dup2'd copies reach the child
    ends += (read, write)
    if min(read, write) <= 2:  # the engine runs without stdin / stdout / stderr
        raise OSError("a pipe took a standard descriptor")
    return read, write


def _stdin(ends: list[int], with_stdin: bool) -> tuple[int, int | None]:
    if with_stdin:
        read, write = _pipe(ends)
        return read, write
    devnull = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    ends.append(devnull)
    if devnull <= 2:
        raise OSError("/dev/null took a standard descriptor")
    return devnull, None


def _seal_inherited() -> None:
    """Make the descriptors above 2 that a child would inherit close-on-exec, once per
    process, at the first start. The engine's own are close-on-exec already (Python's
    default); these came from whoever started it, and Popen would close them in every
    child. Known limit: a descriptor made inheritable after that (`os.set_inheritable`,
    `os.dup2`) reaches children started this way; the engine makes none."""
    global _sealed
    if _sealed:
        return
    _sealed = True
    with contextlib.suppress(OSError):
        for name in os.listdir("/proc/self/fd"):
            with contextlib.suppress(OSError):  # the listing's own, closed by now
                fd = int(name)
                if fd > 2 and os.get_inheritable(fd):
                    os.set_inheritable(fd, False)


_sealed = False
