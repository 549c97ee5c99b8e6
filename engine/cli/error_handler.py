"""The one place that turns exceptions into a line for the user and an exit code."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

from engine.core.errors import EngineError, ExitCode
from engine.core.redactions import Redactions


@contextlib.contextmanager
def error_handler(redactions: Redactions | None = None) -> Iterator[Redactions]:
    """Expected errors → one line + hint; Ctrl-C → 130; a crash → log file, exit 70.

    Yields the handler's `Redactions` (`redactions`, or new ones): a run registered
    there has its secrets redacted from the line and the crash log."""
    redact = Redactions() if redactions is None else redactions
    try:
        yield redact
    except EngineError as exc:
        _say(redact(exc.render()))
        raise SystemExit(int(exc.exit_code)) from None
    except KeyboardInterrupt:
        _say("interrupted")
        raise SystemExit(int(ExitCode.ABORTED)) from None
    except (SystemExit, BrokenPipeError):
        raise
    except Exception as exc:
        log = _write_crash_log(redact)
        name = type(exc).__name__
        _say(f"internal error: {redact(f'{name}: {exc}')}\n  details: {log}")
        raise SystemExit(int(ExitCode.INTERNAL)) from None


def _say(text: str) -> None:
    from engine.ui.display import flush_stdout  # the run's lines come first in a shared log
    from engine.ui.terminal_text import printable

    flush_stdout()
    print(printable(text), file=sys.stderr)


def _write_crash_log(redact: Callable[[str], str]) -> str:
    from engine.core.private_files import UnsafePathError, private_folder, write_private_file
    from engine.ledger import default_home

    text = redact(traceback.format_exc())
    try:
        directory = private_folder(default_home() / "logs")
        path = directory / f"crash-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}.log"
        write_private_file(path, text)
        return str(path)
    except (OSError, UnsafePathError):
        return _fallback_log(text)


def _fallback_log(text: str) -> str:
    """A new 0600 file in the temporary folder (mkstemp's mode, whatever the umask)."""

    with tempfile.NamedTemporaryFile(
        "w", suffix=".log", delete=False, prefix="runbook-crash-"
    ) as f:
        f.write(text)
    return str(Path(f.name))
