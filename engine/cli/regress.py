"""`runbook regress ID -o CASE.yaml`: a recorded run or drill as a regression case."""

from __future__ import annotations

import click

from engine.ui.terminal_text import say


@click.command()
@click.argument("record_id", metavar="RUN_ID|DRILL_ID")
@click.option(
    "--output",
    "-o",
    required=True,
    type=click.Path(dir_okay=False),
    help="Write the case to this file.",
)
@click.option("--force", is_flag=True, help="Replace the case file if it exists.")
@click.option("--name", help="The case's name [default: PLAYBOOK-ID].")
def regress(record_id: str, output: str, force: bool, name: str | None) -> None:
    """Turn a recorded run or drill into a regression case file.

    The case holds the alert's labels and annotations and the inputs (a redacted one is
    to be supplied again, never written), the fault to inject (the playbook's
    drill.inject) and the expectation: the outcome, within T seconds, the same path.
    Run it with `runbook drill --case CASE.yaml [--dry-run]`. Exit 0 written, 2 when the
    id names no run or drill a case is made of, or the file exists (nothing written)."""
    from engine.modes.regress.make import RegressRequest, make_case

    case = make_case(RegressRequest(record_id, output, force, name))
    expect = case.expect
    taken = [step.id for step in expect.steps if step.path == "ran"]
    say(
        f"wrote {output}: case {case.name} of {case.source.kind} {case.source.id}"
        f" ({case.source.playbook} {case.source.version}): {expect.outcome} within"
        f" {expect.within:g}s ({expect.basis}), path {', '.join(taken) or 'no step'}"
    )
