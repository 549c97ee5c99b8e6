"""Starting a local process in a session of its own, with pipes for its output.

`subprocess.Popen` starts every command: the program found on the child's PATH (searched
as the child would, after any `cwd`) with argv as written, stdin from a pipe or
/dev/null, stdout and stderr to pipes, a new session (so a timeout can kill the whole
group), SIGPIPE and SIGXFSZ back to their defaults, and no descriptor of the engine's
but those three: `close_fds` closes in the child also those the engine inherited from
whoever started it, on Linux and macOS alike.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from typing import IO, Protocol

__all__ = ["Child", "Pipe", "spawn"]


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

    def wait(self, timeout: float | None = None) -> int: ...


def spawn(
    argv: list[str], env: Mapping[str, str] | None, cwd: str | None, with_stdin: bool
) -> Child:
    """Start `argv` with `env` (None: the engine's own) in `cwd`. Raises OSError, or
    ValueError for a value no program can be given, when it cannot be started."""
    return subprocess.Popen(
        argv,
        stdin=subprocess.PIPE if with_stdin else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=cwd,
        env=env,
        close_fds=True,  # the default, said aloud: inherited descriptors stay behind
        start_new_session=True,
        restore_signals=True,  # SIGPIPE and SIGXFSZ, which Python ignores, to default
    )
