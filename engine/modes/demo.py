"""`runbook demo`: the shipped demo playbook, twice, in a fresh temporary directory.

First run: a step fails on purpose and the completed steps are undone in reverse
order. Second run: everything goes through and the fake disk is cleaned up.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from engine.core.events import Listener
from engine.core.outcome import Outcome
from engine.core.redactions import Redactions
from engine.modes.drill.inject import inject_fault
from engine.modes.run import run_playbook
from engine.run.preflight import RunRequest

DEMO_SOURCE = "playbooks/demo/disk-cleanup-demo.yaml"
PLANNED_FAILURE = (
    "(planned: step verify_live_log fails on purpose (fail_at=verify_live_log); watch the "
    "completed steps being undone in reverse order, leaving the disk as it was found)"
)


def demo_playbook() -> Path:
    """The demo shipped in the wheel, or the one in a source checkout."""
    packaged = Path(__file__).resolve().parent.parent / "_data" / "demo.yaml"
    if packaged.is_file():
        return packaged
    return Path(__file__).resolve().parents[2] / DEMO_SOURCE


def _request(workdir: str, redactions: Redactions, **inputs: str) -> RunRequest:
    playbook, values = str(demo_playbook()), {"workdir": workdir, **inputs}
    return RunRequest(playbook, values, interactive=False, redactions=redactions)


def run_demo(
    listeners: Sequence[Listener],
    say: Callable[[str], None],
    redactions: Redactions | None = None,
) -> Outcome:
    """Both demo runs; the outcome of the second. Their secrets are registered in
    `redactions` (the error handler's) when given."""
    redactions = Redactions() if redactions is None else redactions

    with tempfile.TemporaryDirectory(prefix="runbook-demo-") as tmp:
        workdir = str(Path(tmp) / "demo")
        say(f"== 0/2: the fault: a disk full of logs (workdir {workdir}) ==")
        fault = inject_fault(_request(workdir, redactions), listeners)
        say("\n== 1/2: a remediation that fails half-way: completed steps are undone ==")
        say(PLANNED_FAILURE)  # here, not only in the step's stderr, which a live table hides
        failed = run_playbook(_request(workdir, redactions), listeners)
        say("\n== 2/2: the same playbook, nothing failing: it stops once the SLI recovers ==")
        result = run_playbook(_request(workdir, redactions, fail_at="none"), listeners)
        say(_next_steps(fault.run_id, failed.run_id, result.run_id))
        return result.outcome


def _next_steps(fault: str, failed: str, recovered: str) -> str:
    """Where the demo's three runs are now: the ledger of RUNBOOK_HOME, as any run's."""
    return (
        "\nnext: `runbook runs` lists the demo's three runs: the fault's injection "
        f"({fault}), the run rolled back ({failed}) and the run that recovered "
        f"({recovered}); `runbook show {failed}` replays the rollback."
    )
