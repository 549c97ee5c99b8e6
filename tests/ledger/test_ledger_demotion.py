"""Automatic demotion, with real runs of `runbook run` on the real ledger: a level-3
playbook whose rollback fails, or whose two consecutive runs end failed or
not_recovered, is at effective level 2 at once (the file untouched); `runbook run` then
says so before anything runs and runs it as level 2; a failure then a success is no
demotion; a human re-promotes on evidence gathered since, and the old failures do not
count."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from demotion_helpers import rollback_failing_playbook, switched_playbook
from run_fixtures import (
    current_env,
    run_env,  # noqa: F401  (autouse fixture)
    run_id_of,
    runbook,
)

POLICY = """\
to_3:
  supervised_runs: 2
  passed_drills: 0
  exercised_undos: 0
"""


def _run(path: Path, healthy: bool, switch: Path) -> tuple[str, str]:
    """A run of `path` ending recovered (`healthy`) or not_recovered; its id and stderr."""
    (path.parent.parent / "markers" / "fixed-db").unlink(missing_ok=True)
    if healthy:
        switch.touch()
    else:
        switch.unlink(missing_ok=True)
    done = runbook("run", str(path), "-i", "service=db", "--yes")
    assert done.returncode == (0 if healthy else 3), done.stdout + done.stderr
    return run_id_of(done.stdout), done.stderr


def _standing(path: Path, *policy: str) -> dict[str, Any]:
    shown = runbook("maturity", str(path), "--output", "json", *policy)
    assert shown.returncode == 0, shown.stderr
    (entry,) = json.loads(shown.stdout)
    return entry  # type: ignore[no-any-return]


def _demotions(entry: dict[str, Any]) -> list[dict[str, Any]]:
    return [change for change in entry["changes"] if change["action"] == "demote"]


def test_a_failed_rollback_demotes_at_once_and_run_says_so() -> None:
    path = rollback_failing_playbook(current_env().work)
    before = path.read_bytes()

    done = runbook("run", str(path), "-i", "service=db", "--yes")
    assert done.returncode == 4, done.stdout + done.stderr
    failed = run_id_of(done.stdout)
    assert "warning" not in done.stderr

    entry = _standing(path)
    (demotion,) = _demotions(entry)
    assert (entry["declared"], entry["effective"]) == (3, 2)
    assert entry["demoted_by"] == demotion["change_id"]
    assert demotion["operator"] == "runbook" and demotion["evidence"] == [failed]
    assert demotion["reason"] == f"demoted after {failed} rollback_failed"
    assert (demotion["from_level"], demotion["to_level"]) == (3, 2)
    assert path.read_bytes() == before
    board = runbook("maturity", str(path)).stdout
    assert f"level 3, effective 2 (demoted after {failed} rollback_failed, by runbook;" in board

    again = runbook("run", str(path), "-i", "service=db", "--yes")
    warning = (
        f"declares level 3 but is at effective level 2: demoted after {failed} rollback_failed"
    )
    assert warning in again.stderr, again.stderr
    assert f"runbook promote {path} --to 3" in again.stderr
    second = run_id_of(again.stdout)
    recorded = runbook("show", second, "--output", "json")
    assert '"maturity": 2' in recorded.stdout, recorded.stdout
    assert len(_demotions(_standing(path))) == 1  # a level-2 run demotes nothing further
    assert path.read_bytes() == before


def test_two_consecutive_not_recovered_runs_demote_and_one_then_a_success_does_not() -> None:
    path, switch = switched_playbook(current_env().work)
    before = path.read_bytes()
    first, _ = _run(path, False, switch)
    _run(path, True, switch)
    third, _ = _run(path, False, switch)
    assert _standing(path)["effective"] == 3  # not_recovered, recovered, not_recovered

    fourth, _ = _run(path, False, switch)
    entry = _standing(path)
    (demotion,) = _demotions(entry)
    assert (entry["declared"], entry["effective"]) == (3, 2)
    assert demotion["evidence"] == [third, fourth]
    assert demotion["reason"] == f"demoted after {third} not_recovered and {fourth} not_recovered"
    assert first not in demotion["evidence"]
    assert path.read_bytes() == before


def test_re_promotion_counts_only_evidence_since_the_demotion() -> None:
    path, switch = switched_playbook(current_env().work)
    policy_file = current_env().work / "policy.yaml"
    policy_file.write_text(POLICY)
    policy = ("--policy", str(policy_file))
    _run(path, False, switch)
    _run(path, False, switch)
    assert _standing(path, *policy)["effective"] == 2
    _run(path, True, switch)
    _, warned = _run(path, True, switch)
    assert "effective level 2" in warned

    promoted = runbook("promote", str(path), "--to", "3", "--yes", *policy)
    assert promoted.returncode == 0, promoted.stdout + promoted.stderr
    entry = _standing(path, *policy)
    assert entry["effective"] == 3 and entry["demoted_by"] is None

    # the two failures before the demotion are not counted again: one more failure is
    # not two consecutive ones, and the next run runs at level 3 without a warning
    _, stderr = _run(path, False, switch)
    assert "warning" not in stderr
    assert _standing(path, *policy)["effective"] == 3


def test_a_bad_demote_section_of_the_policy_is_refused_at_its_line() -> None:
    path, _switch = switched_playbook(current_env().work)
    policy = current_env().work / "policy.yaml"
    for text, line, said in [
        ("demote:\n  escalations_within: 24 hours\n", 2, "demote.escalations_within: expected"),
        ("demote:\n  escalations: -1\n", 2, "demote.escalations: expected a count"),
        ("demote:\n  within: 1d\n", 2, "unknown field"),
    ]:
        policy.write_text(text)
        asked = runbook("maturity", str(path), "--policy", str(policy))
        assert asked.returncode == 2, asked.stdout + asked.stderr
        assert f"{policy}:{line}:" in asked.stderr and said in asked.stderr, asked.stderr
        assert "Traceback" not in asked.stderr
