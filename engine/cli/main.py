"""Entry point of the `runbook` console script.

`runbook run` with plain arguments starts without click (`engine.fastpath`); every
other command line goes to the click CLI (`engine.cli.app`), which owns the help, the
errors and the other commands. Either way the process ends through `quick_exit`.
"""

from __future__ import annotations

import sys

from engine.cli.error_handler import error_handler
from engine.core.redactions import Redactions
from engine.quick_exit import quick_exit
from engine.ui.stdout_text import tolerate_unencodable

# What click exits with when stdout is a closed pipe (it silences the rest).
BROKEN_PIPE = 1


def main() -> None:
    """Run the command line in `sys.argv`, then end the process with its exit code."""
    tolerate_unencodable()
    try:
        with error_handler() as redactions:
            _dispatch(sys.argv[1:], redactions)
    except SystemExit as done:
        quick_exit(done.code)
    except BrokenPipeError:
        quick_exit(BROKEN_PIPE)
    quick_exit(0)


def _dispatch(argv: list[str], redactions: Redactions) -> None:
    """The command line, run with its runs' secrets registered in `redactions`."""
    from engine.fastpath import parse_run

    arguments = parse_run(argv)
    if arguments is None:
        _click_cli(redactions)
        return
    from engine.lean_msgspec import import_msgspec

    import_msgspec()  # before the run's modules import it the usual way
    from engine.cli.options import run_and_exit_code

    sys.exit(run_and_exit_code(**arguments, redactions=redactions))


def _click_cli(redactions: Redactions) -> None:
    """Click parses and runs the command; its errors are shown as click shows them, but a
    Ctrl-C it caught (Abort) ends like one on the fast path: `error_handler` says
    "interrupted" and exits 130, where click alone would say "Aborted!" and exit 1.
    The commands find `redactions` as click's context object."""
    import click

    from engine.cli.app import cli

    try:
        code = cli.main(prog_name="runbook", standalone_mode=False, obj=redactions)
    except click.exceptions.Abort:
        raise KeyboardInterrupt from None
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    sys.exit(code if isinstance(code, int) else 0)
