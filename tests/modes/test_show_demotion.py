"""`runbook show PLAYBOOK` of a playbook demoted in the ledger: declared and effective
level, since when and by whom, why, the runs behind it, and how to re-promote; without a
demotion, the effective level is the declared one."""

from __future__ import annotations

import json

from demotion_helpers import rollback_failing_playbook
from run_fixtures import (
    current_env,
    run_env,  # noqa: F401  (autouse fixture)
    run_id_of,
    runbook,
)


def test_show_playbook_tells_the_effective_level_and_why() -> None:
    path = rollback_failing_playbook(current_env().work)
    plain = json.loads(runbook("show", str(path), "--output", "json").stdout)
    assert (plain["maturity"], plain["effective_maturity"], plain["demotion"]) == (3, 3, None)
    done = runbook("run", str(path), "-i", "service=db", "--yes")
    failed = run_id_of(done.stdout)

    shown = runbook("show", str(path))
    assert shown.returncode == 0, shown.stderr
    assert "declared 3, effective 2 since " in shown.stdout and "by runbook" in shown.stdout
    assert f"why:     demoted after {failed} rollback_failed" in shown.stdout
    assert f"runs:    {failed} rollback_failed" in shown.stdout
    assert f"runbook promote {path} --to 3" in shown.stdout
    data = json.loads(runbook("show", str(path), "--output", "json").stdout)
    assert (data["maturity"], data["effective_maturity"]) == (3, 2)
    demotion = data["demotion"]
    assert demotion["operator"] == "runbook" and demotion["to_level"] == 2
    assert demotion["runs"] == [{"run_id": failed, "outcome": "rollback_failed"}]
    assert runbook("show", failed).returncode == 0  # a run id is still a run's timeline
