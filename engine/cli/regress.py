"""`runbook regress ID -o CASE.yaml`: a recorded run, drill or incident as a regression
case."""

from __future__ import annotations

import click

from engine.cli.completion import complete_run_or_incident_ids
from engine.ui.terminal_text import printable, say


@click.command()
@click.argument(
    "record_id",
    metavar="RUN_ID|DRILL_ID|INCIDENT_ID",
    shell_complete=complete_run_or_incident_ids,
)
@click.option(
    "--output",
    "-o",
    required=True,
    type=click.Path(dir_okay=False),
    help="Write the case to this file.",
)
@click.option("--force", is_flag=True, help="Replace the case file if it exists.")
@click.option("--name", help="The case's name [default: PLAYBOOK-ID].")
@click.option(
    "--within",
    metavar="DURATION",
    help="T of a case of a failed run whose playbook declares none (no"
    " drill.recover_within, no sli): e.g. 5m.",
)
def regress(record_id: str, output: str, force: bool, name: str | None, within: str | None) -> None:
    """Turn a recorded run, drill or incident into a regression case file.

    The case holds the alert's labels and annotations and the inputs (a redacted one is
    to be supplied again, never written), the fault to inject (the playbook's
    drill.inject) and the expectation: the outcome, within T seconds, the same path.
    Of a run that failed or did not recover: to recover within T (the playbook's
    drill.recover_within, else its sli timeout, else --within), its path only observed.
    Of an incident: the case of the run that remediated it, its first alert as the
    fault context (refused when its runs are of several playbooks: name the run).
    Run it with `runbook drill --case CASE.yaml [--dry-run]`. Exit 0 written, 2 when the
    id names no run, drill or incident a case is made of, or the file exists (nothing
    written)."""
    from engine.modes.regress.make import RegressRequest, make_case

    seconds = None if within is None else _within_seconds(within)
    case = make_case(RegressRequest(record_id, output, force, name, within=seconds))
    expect = case.expect
    if case.observed is not None:
        path = f"the failed run's path ({case.observed.outcome}) observed, not enforced"
    else:
        taken = [step.id for step in expect.steps if step.path == "ran"]
        path = f"path {', '.join(taken) or 'no step'}"
    for secret in case.fault_context.unscrubbed:
        said = (
            f"warning: secret {secret} cannot be read here: its value was not looked for"
            f" in the case's labels, annotations and inputs; check {output} before sharing it"
        )
        click.echo(printable(said), err=True)
    say(
        f"wrote {output}: case {case.name} of {case.source.kind} {case.source.id}"
        f" ({case.source.playbook} {case.source.version}): {expect.outcome} within"
        f" {expect.within:g}s ({expect.basis}), {path}"
    )


def _within_seconds(within: str) -> float:
    from engine.core.durations import parse_duration
    from engine.core.errors import UsageError

    try:
        seconds = parse_duration(within)
    except ValueError as exc:
        raise UsageError(f"--within: {exc}", "e.g. --within 90s or --within 5m") from None
    if seconds <= 0:
        raise UsageError("--within: a time to recover is more than zero", "e.g. --within 5m")
    return seconds
