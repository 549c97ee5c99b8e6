"""The `runbook` command. Each command parses options, calls one function, prints its result.

Keep imports here light: `runbook --help` must start fast, so jinja2, jsonschema,
rich, paramiko and kubernetes are imported by the functions that need them.
"""

from __future__ import annotations

import sys

import click

from engine import __version__
from engine.cli.options import (
    make_listeners,
    make_request,
    run_and_exit_code,
    wait_seconds,
)
from engine.core.redactions import Redactions
from engine.ui.terminal_text import say

OUTPUT = click.Choice(["text", "json"])


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="runbook")
def cli() -> None:
    """Run runbooks safely: ordered, reversible steps, SLI-gated, maturity-aware."""


def crash_redactions() -> Redactions | None:
    """Where a command's runs register their secrets: the error handler's `Redactions`,
    which `engine.cli.main` hands to click as the context object (None when not run that way)."""
    found = click.get_current_context().obj
    return found if isinstance(found, Redactions) else None


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--strict", is_flag=True, help="Treat warnings as errors.")
@click.option("--output", "-o", type=OUTPUT, default="text", show_default=True)
def validate(paths: tuple[str, ...], strict: bool, output: str) -> None:
    """Check playbook files (or directories of them). Exit 0 valid, 1 invalid, 2 usage."""
    from engine.modes import validate as command

    reports = command.validate(paths)
    render = command.render_json if output == "json" else command.render_text
    say(render(reports, strict))
    sys.exit(int(command.exit_code(reports, strict)))


@cli.command()
def schema() -> None:
    """Print the JSON Schema of the playbook format."""
    from engine.playbook.schema_file import schema_text

    click.echo(schema_text(), nl=False)


@cli.command("list")
@click.argument("directory", default="playbooks", type=click.Path(exists=True, file_okay=False))
def list_playbooks(directory: str) -> None:
    """List the playbooks under DIRECTORY."""
    from engine.modes.catalog import list_rows, table

    header = ("NAME", "VERSION", "MATURITY", "OWNER", "STEPS", "FILE")
    say(table(header, list_rows(directory)))


@cli.command()
@click.argument("target")
@click.option("--output", "-o", type=OUTPUT, default="text", show_default=True)
def show(target: str, output: str) -> None:
    """Describe a playbook file, or the timeline of a run (by run id)."""
    from engine.modes.show import show as command

    say(command(target, output))


INPUT = click.option(
    "-i",
    "--input",
    "inputs",
    multiple=True,
    metavar="NAME=VALUE",
    help="Set an input (repeatable).",
)
INVENTORY = click.option(
    "--inventory",
    envvar="RUNBOOK_INVENTORY",
    type=click.Path(dir_okay=False),
    help="SSH hosts file [default: inventory.yaml beside the playbook; env RUNBOOK_INVENTORY].",
)
WAIT_LOCK = click.option(
    "--wait-lock",
    metavar="DURATION",
    help="Wait up to DURATION (30s, 5m) for a target another run holds [default: refuse at once].",
)


@cli.command()
@click.argument("playbook", type=click.Path(exists=True, dir_okay=False))
@INPUT
@INVENTORY
@click.option("--dry-run", is_flag=True, help="Show what would run; change nothing.")
@click.option("--probe", is_flag=True, help="With --dry-run: read the SLI, run read-only steps.")
@click.option("--yes", "-y", "assume_yes", is_flag=True, help="Pre-approve confirm gates.")
@click.option("--force", is_flag=True, help="Run even if the SLI pre-check says healthy.")
@click.option("--quiet", "-q", is_flag=True, help="Print only the outcome.")
@click.option("--output", "-o", type=OUTPUT, default="text", show_default=True)
@WAIT_LOCK
def run(
    playbook: str,
    inputs: tuple[str, ...],
    inventory: str | None,
    dry_run: bool,
    probe: bool,
    assume_yes: bool,
    force: bool,
    quiet: bool,
    output: str,
    wait_lock: str | None,
) -> None:
    """Run a playbook: steps in order, undo in reverse on failure, stop once the SLI recovers."""
    if dry_run:
        _print_plan(playbook, inputs, output, probe, inventory)
        return
    redactions = crash_redactions()
    sys.exit(
        run_and_exit_code(
            playbook, inputs, inventory, assume_yes, force, quiet, output, wait_lock, redactions
        )
    )


@cli.command()
@click.argument("playbook", type=click.Path(exists=True, dir_okay=False))
@INPUT
@INVENTORY
@click.option("--probe", is_flag=True, help="Also read the SLI and run read-only steps.")
@click.option("--output", "-o", type=OUTPUT, default="text", show_default=True)
def plan(
    playbook: str, inputs: tuple[str, ...], inventory: str | None, probe: bool, output: str
) -> None:
    """Dry-run: every step rendered with its undo and a verdict; nothing changed."""
    _print_plan(playbook, inputs, output, probe, inventory)


def _print_plan(
    playbook: str, inputs: tuple[str, ...], output: str, probe: bool, inventory: str | None = None
) -> None:
    from engine.modes.plan import plan_playbook

    request = make_request(playbook, inputs, crash_redactions(), dry_run=True, inventory=inventory)
    say(plan_playbook(request, output, probe))


@cli.command()
@click.argument("run_id")
@INVENTORY
@click.option("--dry-run", is_flag=True, help="Only show the undo plan; undo nothing.")
@click.option(
    "--yes", "-y", "assume_yes", is_flag=True, help="Undo without asking; pre-approve gates."
)
@click.option("--output", "-o", type=OUTPUT, default="text", show_default=True)
@WAIT_LOCK
def rollback(
    run_id: str,
    inventory: str | None,
    dry_run: bool,
    assume_yes: bool,
    output: str,
    wait_lock: str | None,
) -> None:
    """Undo the completed steps of an earlier run (also an interrupted one), holding its
    targets' locks.

    Shows the undo plan first; at a terminal asks before undoing (--yes does not ask);
    without a terminal, --yes is needed. Exit 5 if the run's recorded playbook text
    does not match its content hash (nothing is undone)."""
    from engine.modes.rollback.review import rollback as command
    from engine.run.preflight import RunRequest
    from engine.ui.operator import has_terminal

    request = RunRequest(
        "",
        interactive=has_terminal(),
        assume_yes=assume_yes,
        inventory=inventory,
        wait_lock=wait_seconds(wait_lock),
        redactions=crash_redactions() or Redactions(),
    )
    listeners = make_listeners(output, False)
    sys.exit(command(run_id, request, listeners, output, dry_run, _confirm_at_terminal))


def _confirm_at_terminal(question: str) -> bool:
    return bool(click.confirm(question, default=False))


@cli.command()
@click.option("--playbook", "-p", help="Only runs of this playbook.")
@click.option("--outcome", help="Only runs with this outcome.")
@click.option("--limit", "-n", default=20, show_default=True)
@click.option("--output", "-o", type=OUTPUT, default="text", show_default=True)
def runs(playbook: str | None, outcome: str | None, limit: int, output: str) -> None:
    """The history of runs, newest first."""
    from engine.modes.history import list_runs

    say(list_runs(playbook, outcome, limit, output))


@cli.command()
@click.argument("playbook", type=click.Path(exists=True, dir_okay=False))
@INPUT
@INVENTORY
@click.option("--yes", "-y", "assume_yes", is_flag=True, help="Pre-approve confirm gates.")
@click.option("--output", "-o", type=OUTPUT, default="text", show_default=True)
@click.option("--quiet", "-q", is_flag=True, help="Print only the report.")
@WAIT_LOCK
def drill(
    playbook: str,
    inputs: tuple[str, ...],
    inventory: str | None,
    assume_yes: bool,
    output: str,
    quiet: bool,
    wait_lock: str | None,
) -> None:
    """Game day: inject the playbook's fault, time detection and recovery, always revert.

    Exit 0 passed, 3 not detected / not recovered, 1 inject failed, 4 revert failed,
    5 refused (SLI not healthy before), 130 interrupted."""
    from engine.modes.drill import report as command
    from engine.modes.drill.game_day import run_drill

    request = make_request(
        playbook,
        inputs,
        crash_redactions(),
        assume_yes=assume_yes,
        inventory=inventory,
        wait_lock=wait_seconds(wait_lock),
    )
    if output == "json":
        report = run_drill(request)
        say(command.render_json(report))
    else:
        from engine.ui.display import PromptLines

        lines = PromptLines(sys.stdout)  # one for the drill's runs: one flushing thread
        report = run_drill(request, lambda: make_listeners("text", quiet, lines))
        say(command.render_text(report))
    sys.exit(int(report.exit_code))


@cli.command()
@click.option("--quiet", "-q", is_flag=True, help="Print only the outcomes.")
def demo(quiet: bool) -> None:
    """Run the self-contained demo: a failure rolled back, then a clean run."""
    from engine.modes.demo import run_demo

    outcome = run_demo(make_listeners("text", quiet), click.echo, crash_redactions())
    sys.exit(int(outcome.exit_code))


@cli.command()
@click.option("--output", "-o", type=OUTPUT, default="text", show_default=True)
def locks(output: str) -> None:
    """The target locks runs hold now (also those of dead or expired owners)."""
    from engine.modes.locks import list_locks

    click.echo(list_locks(output))


@cli.command()
def recover() -> None:
    """Find runs whose engine died and mark them interrupted."""
    from engine.modes.history import recover as command

    say(command())
