"""Entry point of the `runbook` console script.

`runbook run` with plain arguments starts without click (`engine.fastpath`); every
other command line goes to the click CLI (`engine.cli`), which owns the help, the
errors and the other commands. Either way the process ends through `quick_exit`.
"""

from __future__ import annotations

import sys

from engine.error_handler import error_handler
from engine.quick_exit import quick_exit

# What click exits with when stdout is a closed pipe (it silences the rest).
BROKEN_PIPE = 1


def main() -> None:
    """Run the command line in `sys.argv`, then end the process with its exit code."""
    try:
        with error_handler():
            _dispatch(sys.argv[1:])
    except SystemExit as done:
        quick_exit(done.code)
    except BrokenPipeError:
        quick_exit(BROKEN_PIPE)
    quick_exit(0)


def _dispatch(argv: list[str]) -> None:
    from engine.fastpath import parse_run

    arguments = parse_run(argv)
    if arguments is None:
        from engine.cli import cli

        cli(prog_name="runbook")
        return
    from engine.commands.options import run_and_exit_code

    sys.exit(run_and_exit_code(**arguments))
