"""Ending the `runbook` process without tearing the interpreter down.

With a run's modules loaded, Python's own shutdown (clearing every module, a last
garbage collection) costs about 12 ms on two cores: a tenth of a 10-step run. Nothing
the engine promises depends on it: every ledger write is committed (and fsynced) when
its call returns, the ledger is closed by the command itself, and output is flushed
here. So the console script ends with `os._exit`, after doing what a normal exit does
that matters: waiting for threads that are not daemons (or leaving it to Python when
there are some), running `atexit` handlers, flushing stdout and stderr.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from typing import IO, NoReturn

# What Python exits with when flushing stdout fails at shutdown (a closed pipe, say).
FLUSH_FAILED = 120


def quick_exit(code: object) -> NoReturn:
    """Exit with `code` as `sys.exit(code)` would, minus the interpreter's teardown."""
    if _threads_still_working():
        raise SystemExit(code)  # Python joins them first; keep that
    atexit._run_exitfuncs()
    stdout_flushed = _flushed(sys.stdout)  # the run's lines before any message of _status
    status = _status(code)
    if not (stdout_flushed and _flushed(sys.stderr)):
        status = status or FLUSH_FAILED
    os._exit(status)


def _flushed(stream: IO[str] | None) -> bool:
    try:
        if stream is not None:
            stream.flush()
    except (OSError, ValueError):
        return False
    return True


def _threads_still_working() -> bool:
    main = threading.main_thread()
    others = (t for t in threading.enumerate() if t is not main)
    return threading.current_thread() is not main or any(not t.daemon for t in others)


def _status(code: object) -> int:
    """SystemExit's rules: None is 0, an int is itself, anything else is printed, 1."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    from engine.ui.terminal_text import printable

    print(printable(str(code)), file=sys.stderr)
    return 1
