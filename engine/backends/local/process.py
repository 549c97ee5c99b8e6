"""Run a local process under a deadline, stream its output, kill its whole group."""

from __future__ import annotations

import codecs
import contextlib
import functools
import math
import os
import select
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence

from msgspec import Struct

from engine.backends.local.containment import NO_CELL, Cell, Containment
from engine.backends.local.spawn import Child, Pipe, spawn
from engine.backends.supervisor import CommandOutcome, CommandOutput, Ending, State, supervise

KILL_GRACE_SECONDS = 2.0
_UTF8_DECODER = codecs.getincrementaldecoder("utf-8")


class CannotStart(Exception):
    """The process could not be started (nothing ran): a missing program or working
    directory, a permission, or a value no program can be given."""

    def __init__(self, name: str, cause: OSError | ValueError, search: Search) -> None:
        self.cause = cause
        super().__init__(f"cannot start `{name}`: {_why(name, cause, search)}")


class Search(Struct, frozen=True):
    """Where the child looked for its program: its PATH and working directory."""

    path: str | None
    cwd: str | None


def _why(name: str, cause: OSError | ValueError, search: Search) -> str:
    if isinstance(cause, UnicodeEncodeError):
        bad = cause.object[cause.start : cause.end]
        return (
            f"a value holds {bad!r}, which cannot be encoded for a command "
            "(an unpaired surrogate, e.g. from a JSON `\\ud800` escape)"
        )
    if isinstance(cause, ValueError):  # a NUL character, an `=` in an environment name
        return f"a value cannot be given to a command: {cause}"
    if isinstance(cause, FileNotFoundError) and cause.filename == name:
        return _not_found(name, search, cause.strerror)
    where = f": {cause.filename}" if cause.filename else ""
    return f"{cause.strerror or cause}{where}"


def _not_found(name: str, search: Search, reason: str | None) -> str:
    """ENOENT for the program itself: it is missing, or its `#!` interpreter is."""
    if "/" in name:
        found: str | None = os.path.join(search.cwd or "", name)
    else:
        found = find_executable(name, search.path)
    if found is None:
        return "no such program on PATH"
    if not os.path.exists(found):
        return f"no such file: {name}"
    return f"{found} exists but cannot be run: {reason} (a missing #! interpreter?)"


def run_process(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    stdin: str | None = None,
    timeout: float | None = None,
    on_output: Callable[[str], None] = lambda line: None,
    cancel: threading.Event | None = None,
    cap: int = 64 * 1024,
    on_started: Callable[[], None] = lambda: None,
    contain: Containment | None = None,
    withhold: Collection[str] = (),
) -> CommandOutcome:
    """Run `argv` in its own process group (and cell of `contain`, see
    engine.backends.local.containment); on timeout or cancel, TERM then KILL the group, then
    kill whatever is left in the cell. `on_started` is called once the process runs,
    before its output is read. The variables named in `withhold` (those the run's secrets
    were read from) are not passed on: a command gets a secret only through its own
    `env:` or `stdin:` (RELIABILITY.md #12). Raises CannotStart when it could not start
    (then nothing ran)."""
    child_env = _child_environment(env, withhold)
    try:
        # Bytes as argv and env get them: a byte argv could not decode goes back as itself.
        data = stdin.encode("utf-8", "surrogateescape") if stdin is not None else None
        start = functools.partial(spawn, list(argv), child_env, cwd, data is not None)
        proc, cell = contain.start(start) if contain is not None else (start(), NO_CELL)
    except (OSError, ValueError) as exc:  # ValueError: NUL, `=` in a name, a surrogate
        search = Search((child_env if child_env is not None else os.environ).get("PATH"), cwd)
        raise CannotStart(argv[0] if argv else "", exc, search) from exc
    output = CommandOutput(on_output, cap)
    running = _LocalRun(proc, cell, output)
    try:
        on_started()
    except BaseException:
        running.close()
        raise
    if data is not None and proc.stdin is not None:
        threading.Thread(target=_feed_stdin, args=(proc.stdin, data), daemon=True).start()
    return supervise(running, output, timeout or None, cancel)  # 0: no deadline


def _child_environment(
    env: Mapping[str, str] | None, withhold: Collection[str]
) -> dict[str, str] | None:
    """The engine's environment without what is withheld, plus the step's `env`; None
    (the engine's own, as it is) when there is nothing to change."""
    if not withhold:
        return {**os.environ, **env} if env else None
    inherited = {name: value for name, value in os.environ.items() if name not in withhold}
    return {**inherited, **env} if env else inherited


def find_executable(name: str, path: str | None) -> str | None:
    """The absolute file a PATH search for `name` finds first, to name it when it could
    not be started. None for a name with a slash, and once a relative or empty PATH entry
    comes first (it depends on `cwd`)."""
    if not name or "/" in name:
        return None
    for folder in (os.defpath if path is None else path).split(os.pathsep):
        if not folder.startswith("/"):
            return None
        candidate = f"{folder}{name}" if folder.endswith("/") else f"{folder}/{name}"
        if os.access(candidate, os.X_OK) and os.path.isfile(candidate):
            return candidate
    return None


def _feed_stdin(pipe: object, data: bytes) -> None:
    try:
        pipe.write(data)  # type: ignore[attr-defined]
        pipe.close()  # type: ignore[attr-defined]
    except (BrokenPipeError, OSError):
        pass


class _LocalRun:
    """A local process as the supervisor drives it: its pipes read without blocking
    until both close, its process group (and cell) killed to stop it."""

    wait_slice = 0.2

    def __init__(self, proc: Child, cell: Cell, output: CommandOutput) -> None:
        self.proc = proc
        self.cell = cell
        self.output = output
        self.finished = False
        # poll(2) itself: two pipes, no extra descriptor or set-up calls (epoll), and none
        # of the bookkeeping of `selectors`, on a path every step takes.
        self.poller = select.poll()
        self.pipes: dict[int, Pipe] = {}
        self.stdout_fd = proc.stdout.fileno() if proc.stdout is not None else -1
        # One decoder per pipe: a UTF-8 character split across two reads stays whole.
        self.decoders: dict[int, codecs.IncrementalDecoder] = {}
        self.pidfd: int | None = None  # opened once its output closed, -1 where none
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:  # read only when poll says so: data or EOF, never a block
                self.pipes[pipe.fileno()] = pipe
                self.poller.register(pipe.fileno(), select.POLLIN)

    def pump(self, wait: float) -> None:
        if not self.pipes:  # it closed its output and runs on: wait for its exit instead
            self._wait_exit(wait)
            return
        for fd, _ in self.poller.poll(math.ceil(wait * 1000)):
            chunk = os.read(fd, 65536)
            if chunk:
                text = self._decoder(fd).decode(chunk)
            else:  # end of file: what a split character left behind, if anything
                self.poller.unregister(fd)
                del self.pipes[fd]
                decoder = self.decoders.get(fd)
                text = decoder.decode(b"", final=True) if decoder is not None else ""
            if text:
                self.output.add(text, fd == self.stdout_fd)

    def _wait_exit(self, wait: float) -> None:
        # Its exit usually follows within microseconds: a pidfd wakes the poll right then
        # (Popen.wait with a timeout would sleep a millisecond or more first).
        if self.pidfd is None:
            self.pidfd = _open_pidfd(self.proc.pid)
            if self.pidfd >= 0:
                self.poller.register(self.pidfd, select.POLLIN)
        if self.pidfd >= 0:
            self.poller.poll(math.ceil(wait * 1000))
            return
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=wait)

    def _decoder(self, fd: int) -> codecs.IncrementalDecoder:
        decoder = self.decoders.get(fd)
        if decoder is None:
            decoder = self.decoders[fd] = _UTF8_DECODER("replace")
        return decoder

    def state(self) -> State:
        return State.RUNNING if self.proc.poll() is None else State.EXITED

    def drained(self) -> bool:
        return not self.pipes

    def stop(self, ending: Ending) -> str:
        kill_tree(self.proc, self.cell)
        return "process group killed"

    def finish(self, ending: Ending) -> int | None:
        exit_code = self.proc.wait()
        self.finished = True
        self.output.flush()
        return exit_code

    def close(self) -> None:
        if not self.finished:
            kill_tree(self.proc, self.cell)
        close_pipes(self.proc)
        if self.pidfd is not None and self.pidfd >= 0:
            os.close(self.pidfd)


def _open_pidfd(pid: int) -> int:
    """A descriptor that becomes readable when `pid` exits; -1 where there is none
    (before Linux 5.3, on macOS)."""
    open_pidfd = getattr(os, "pidfd_open", None)
    if open_pidfd is None:
        return -1
    try:
        return int(open_pidfd(pid))
    except OSError:
        return -1


def close_pipes(proc: Child) -> None:
    """Close the child's output pipes (closing twice is harmless)."""
    for pipe in (proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()


def kill_tree(proc: Child, cell: Cell) -> None:
    """Kill the command's process group, then what left it (`setsid`) in its cell."""
    kill_group(proc)
    cell.kill()


def kill_group(proc: Child) -> None:
    """TERM the process group, then KILL it if it is still there after a grace period."""
    for sig, grace in ((signal.SIGTERM, KILL_GRACE_SECONDS), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        if _group_gone(proc, grace):
            return


def _group_gone(proc: Child, grace: float) -> bool:
    end = time.monotonic() + grace
    while time.monotonic() < end:
        proc.poll()
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return True
        if proc.returncode is not None and _only_zombies(proc.pid):
            return True
        time.sleep(0.02)
    return False


def _only_zombies(pgid: int) -> bool:
    """True when every process left in the group is a zombie (dead, not yet reaped)."""
    try:
        out = subprocess.run(
            ["ps", "-o", "stat=", "-g", str(pgid)], capture_output=True, text=True, timeout=5
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return False
    return all(line.strip().startswith("Z") for line in out.splitlines() if line.strip())
