"""`runbook replay FILE.tar.gz`: a recorded run judged again, executing nothing."""

from __future__ import annotations

import click

from engine.cli.params import OUTPUT
from engine.ui.terminal_text import say


@click.command()
@click.argument("bundle", type=click.Path(dir_okay=False))
@click.option(
    "--playbook",
    type=click.Path(dir_okay=False),
    help="Judge against this playbook [default: the file the run recorded].",
)
@click.option("--output", "-o", type=OUTPUT, default="text", show_default=True)
def replay(bundle: str, playbook: str | None, output: str) -> None:
    """Judge a bundle's run again against the current playbook and engine, executing
    nothing: `when:` conditions, the SLI pre-check and stop-on-recovery on the recorded
    samples, confirm gates, the content. Exit 0 when nothing differs, 1 when something
    does, 2 for a usage error, 5 for a bundle that is not as exported."""
    from engine.hooks.binding import recorded_alert
    from engine.modes.bundle.replay import ReplayRequest, render_json, render_text
    from engine.modes.bundle.replay import replay as judge

    done = judge(ReplayRequest(bundle, playbook, recorded_alert))
    say(render_json(done) if output == "json" else render_text(done))
    raise SystemExit(0 if done.same else 1)
