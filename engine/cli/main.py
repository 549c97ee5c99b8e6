"""Entry point of the `runbook` console script: the click CLI (`engine.cli.app`), its errors
and Ctrl-C shown by `error_handler`, then a normal `sys.exit` with the exit code."""

from __future__ import annotations

import contextlib
import os
import sys
from typing import IO, NoReturn

import click

from engine.cli.app import cli
from engine.cli.error_handler import error_handler
from engine.core.redactions import Redactions
from engine.ui.stdout_text import tolerate_unencodable

# What click exits with when stdout is a closed pipe (it silences the rest).
BROKEN_PIPE = 1
# What Python exits with when flushing stdout fails at shutdown (a closed pipe, say).
FLUSH_FAILED = 120


def main() -> NoReturn:
    """Run the command line in `sys.argv`, then exit with its exit code."""
    tolerate_unencodable()
    code: str | int | None = 0
    try:
        with error_handler() as redactions:
            _click_cli(redactions)
    except SystemExit as done:
        code = done.code
    except BrokenPipeError:
        code = BROKEN_PIPE
    if not _standard_streams_flushed():
        code = code or FLUSH_FAILED
    sys.exit(code)


def _click_cli(redactions: Redactions) -> None:
    """Click parses and runs the command; its errors are shown as click shows them, but a
    Ctrl-C it caught (Abort) ends like any other: `error_handler` says "interrupted" and
    exits 130, where click alone would say "Aborted!" and exit 1. The commands find
    `redactions` (where their runs register their secrets) as click's context object."""

    try:
        code = cli.main(prog_name="runbook", standalone_mode=False, obj=redactions)
    except click.exceptions.Abort:
        raise KeyboardInterrupt from None
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    sys.exit(code if isinstance(code, int) else 0)


def _standard_streams_flushed() -> bool:
    """Flush stdout, then stderr. A stream that cannot be written (a closed pipe) is sent
    to /dev/null instead: Python flushes both again at exit and would print a traceback
    of the same failure (the recipe of Python's documentation on SIGPIPE)."""
    flushed = True
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            flushed = False
            _send_to_devnull(stream)
    return flushed


def _send_to_devnull(stream: IO[str]) -> None:
    with contextlib.suppress(OSError, ValueError):  # a stream without a descriptor
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, stream.fileno())
        finally:
            os.close(devnull)
