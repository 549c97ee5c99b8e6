"""Ctrl-C and SIGTERM during a run: the first asks for an abort (the running step's
process group is killed, completed steps are undone); more signals during the
rollback are counted but do not stop it, until the third, which exits at once and
leaves the run for `runbook recover`."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from types import FrameType

HARD_STOP_AFTER = 3


class AbortSignals:
    def __init__(self) -> None:
        self.cancel = threading.Event()  # cancels the running step
        self.count = 0
        self.reason = ""
        self._prompting = False

    @property
    def aborted(self) -> bool:
        return self.count > 0

    @property
    def hard_stop(self) -> bool:
        return self.count >= HARD_STOP_AFTER

    def request_abort(self, reason: str) -> None:
        self.count += 1
        self.reason = self.reason or reason
        self.cancel.set()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.request_abort(signal.Signals(signum).name)
        if self.count >= HARD_STOP_AFTER:
            raise KeyboardInterrupt
        if self.count > 1:
            print("rollback in progress; signal again to stop at once", file=sys.stderr)
        if self._prompting:
            raise KeyboardInterrupt  # unblocks the prompt; the operator turns it into an abort

    def installed(self) -> contextlib.AbstractContextManager[None]:
        return stop_signals_handled(self._handle)

    @contextlib.contextmanager
    def prompting(self) -> Iterator[None]:
        previous, self._prompting = self._prompting, True
        try:
            yield
        finally:
            self._prompting = previous


@contextlib.contextmanager
def stop_signals_handled(handle: Callable[[int, FrameType | None], None]) -> Iterator[None]:
    """SIGINT and SIGTERM go to `handle` for the block, then to what handled them before.
    Only the main thread may set handlers: elsewhere the block runs with them as they are."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
