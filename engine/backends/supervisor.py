"""One supervision loop for a command, local or remote, and the one outcome it ends in.

A backend starts its command and hands `supervise` a `Running`: the loop pumps the
output (lines to the display, capped tails for the result), waits in short slices so a
deadline or a cancel is seen promptly, stops the command (the whole process group, local
or remote) when either comes, and ends in a `CommandOutcome`. What differs between a
local process and a remote one (pipes or a channel, `killpg` or a kill over a second
channel, a connection that can be lost) stays behind the `Running` protocol.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from enum import StrEnum
from typing import Protocol

from msgspec import Struct

from engine.core.output_cuts import line_cut, tail_cut

DRAIN_AFTER_EXIT_SECONDS = 0.5  # output still held by a background child is not waited for
EXITED_SLICE_SECONDS = 0.05
MAX_LINE = 64 * 1024  # a longer line is shown cut; the output tail keeps its end anyway


class Ending(StrEnum):
    """How a command ended: with an exit status, or stopped, or out of sight."""

    EXITED = "exited"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"
    LOST = "lost"  # no exit status (a lost connection): whether it ran is unknown


class State(StrEnum):
    """What a running command looks like between two slices."""

    RUNNING = "running"
    EXITED = "exited"
    LOST = "lost"


class CommandOutcome(Struct, frozen=True):
    """A finished command: how it ended, its exit code (None unless it exited), its
    stdout (for a capture), its output (stdout and stderr interleaved, capped to its
    tail, with the cut marked) and what stopping it did."""

    ending: Ending
    exit_code: int | None
    stdout: str
    output: str
    detail: str = ""
    truncated: bool = False  # the output lost its beginning to the cap

    @property
    def timed_out(self) -> bool:
        return self.ending is Ending.TIMED_OUT

    @property
    def cancelled(self) -> bool:
        return self.ending is Ending.CANCELLED

    @property
    def lost(self) -> bool:
        return self.ending is Ending.LOST


class TailBuffer:
    """Keeps the last `cap` characters, and remembers whether it dropped any."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.parts: list[str] = []
        self.size = 0
        self.truncated = False

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.size += len(text)
        if self.size > 2 * self.cap:
            self._compact()

    def _compact(self) -> None:
        joined = "".join(self.parts)
        if len(joined) > self.cap:
            self.truncated = True
            joined = joined[-self.cap :]
        self.parts = [joined]
        self.size = len(joined)

    def text(self) -> str:
        self._compact()
        body = self.parts[0] if self.parts else ""
        return tail_cut(self.cap, body) if self.truncated else body


class LineSplitter:
    """Feeds complete lines to a callback; the rest waits for more data.

    A line longer than `max_line` is shown once, cut, with how much was left out; the
    rest of it is counted, not kept. Time is linear in the output whatever its shape
    (one 200 MB line costs what 200 MB of short lines do) and memory stays bounded.
    """

    def __init__(self, emit: Callable[[str], None], max_line: int = MAX_LINE) -> None:
        self.emit = emit
        self.max_line = max_line
        self.pending: list[str] = []
        self.size = 0
        self.cut = 0

    def feed(self, text: str) -> None:
        *complete, rest = text.split("\n")
        for line in complete:
            if self.pending or self.cut or len(line) > self.max_line:
                self._hold(line)
                self._emit_pending()
            else:
                self.emit(line)
        self._hold(rest)

    def flush(self) -> None:
        if self.pending or self.cut:
            self._emit_pending()

    def _hold(self, piece: str) -> None:
        room = max(self.max_line - self.size, 0)
        if len(piece) > room:
            self.cut += len(piece) - room
            piece = piece[:room]
        if piece:
            self.pending.append(piece)
            self.size += len(piece)

    def _emit_pending(self) -> None:
        line = "".join(self.pending)
        if self.cut:
            line = line_cut(line, self.cut)
        self.pending, self.size, self.cut = [], 0, 0
        self.emit(line)


class CommandOutput:
    """Where a command's decoded output goes: its lines to the display, its stdout and
    its whole output to capped tails."""

    def __init__(self, on_output: Callable[[str], None], cap: int) -> None:
        self.stdout = TailBuffer(cap)
        self.output = TailBuffer(cap)
        self.lines = LineSplitter(on_output)

    def add(self, text: str, from_stdout: bool) -> None:
        """Keep and show a piece of output (any length, any split)."""
        if from_stdout:
            self.stdout.add(text)
        self.output.add(text)
        self.lines.feed(text)

    def flush(self) -> None:
        """Show the last line, even without its newline."""
        self.lines.flush()


class Running(Protocol):
    """A started command as the loop drives it; a backend says how."""

    @property
    def wait_slice(self) -> float:
        """The longest wait between two looks at the deadline and the cancel."""
        ...

    def pump(self, wait: float) -> None:
        """Move the output that is ready into the CommandOutput; wait up to `wait`
        seconds for some when there is none."""
        ...

    def state(self) -> State:
        """Whether the command still runs, exited, or is out of sight."""
        ...

    def drained(self) -> bool:
        """All of its output was read (the end of each stream was seen)."""
        ...

    def stop(self, ending: Ending) -> str:
        """Kill the command's whole group (it timed out, was cancelled, or was lost);
        say what happened to it."""
        ...

    def finish(self, ending: Ending) -> int | None:
        """Collect its exit status and the output still buffered; the exit code when it
        exited, else None."""
        ...

    def close(self) -> None:
        """Release its pipes or channel; one that did not finish (the supervision
        itself broke) is killed first where that is possible."""
        ...


def supervise(
    running: Running,
    output: CommandOutput,
    timeout: float | None,
    cancel: threading.Event | None,
) -> CommandOutcome:
    """Drive `running` to its end: pump its output, stop it at the deadline or on a
    cancel, and say how it ended. Never waits past `timeout` (plus the kill)."""
    try:
        ending = _watch(running, timeout, cancel)
        detail = running.stop(ending) if ending is not Ending.EXITED else ""
        exit_code = running.finish(ending)
    finally:
        running.close()
    return CommandOutcome(
        ending,
        exit_code if ending is Ending.EXITED else None,
        output.stdout.text(),
        output.output.text(),
        detail,
        output.output.truncated,
    )


def _watch(running: Running, timeout: float | None, cancel: threading.Event | None) -> Ending:
    deadline = time.monotonic() + timeout if timeout is not None else None
    exited_at: float | None = None
    while True:
        running.pump(_slice(running, deadline, exited_at))
        state = running.state()
        if state is State.EXITED:
            # It ended: its exit status is the outcome, whatever is asked from now on
            # (a Ctrl-C here must not turn a finished step into a cancelled one).
            exited_at = exited_at or time.monotonic()
            if running.drained() or time.monotonic() - exited_at > DRAIN_AFTER_EXIT_SECONDS:
                return Ending.EXITED  # a background child may hold the output: not waited for
            continue
        if state is State.LOST:
            return Ending.LOST
        ending = _asked_to_stop(deadline, cancel)
        if ending is not None and running.state() is State.RUNNING:
            return ending


def _asked_to_stop(deadline: float | None, cancel: threading.Event | None) -> Ending | None:
    if cancel is not None and cancel.is_set():
        return Ending.CANCELLED
    if deadline is not None and time.monotonic() >= deadline:
        return Ending.TIMED_OUT
    return None


def _slice(running: Running, deadline: float | None, exited_at: float | None) -> float:
    if exited_at is not None:
        return EXITED_SLICE_SECONDS
    if deadline is None:
        return running.wait_slice
    return max(0.0, min(running.wait_slice, deadline - time.monotonic()))
