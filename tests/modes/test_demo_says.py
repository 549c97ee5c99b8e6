"""`runbook demo` tells the truth: it says at a terminal (where the live table hides a
step's stderr) that its first run fails on purpose, the runs it tells `runbook runs` to
list are the ones listed, and its playbook's text names only steps that exist, in the
order the engine undoes them."""

from __future__ import annotations

import json
import re

from run_fixtures import (
    finish_terminal,
    run_env,  # noqa: F401  (autouse fixture)
    runbook,
    spawn_terminal,
)

from engine.modes.demo import demo_playbook
from engine.playbook.loader import load_playbook

NEXT = re.compile(
    r"`runbook runs` lists the demo's three runs: the fault's injection \((\S+)\), "
    r"the run rolled back \((\S+)\) and the run that recovered \((\S+)\); "
    r"`runbook show (\S+)` replays the rollback\."
)


def test_at_a_terminal_the_demo_says_its_failure_is_planned_and_names_the_runs_listed() -> None:
    shown = spawn_terminal("demo", timeout=60)
    shown.expect(r"1/2: a remediation that fails half-way")
    shown.expect(r"planned: step verify_live_log fails on purpose \(fail_at=verify_live_log\)")
    shown.expect(r"2/2: the same playbook")
    shown.expect(r"next: .*?replays the rollback\.")
    said = re.sub(r"\s+", " ", shown.after)
    assert finish_terminal(shown, timeout=60) == 0

    named = NEXT.search(said)
    assert named is not None, said
    fault, failed, recovered, replayed = named.groups()
    listed = runbook("runs", "--output", "json")
    assert listed.returncode == 0, listed.stderr
    runs = [(run["run_id"], run["status"]) for run in json.loads(listed.stdout)]
    assert runs == [(recovered, "recovered"), (failed, "failed"), (fault, "completed")]
    assert replayed == failed


def _texts() -> str:
    playbook = load_playbook(str(demo_playbook()))
    meta = playbook.metadata
    parts = [meta.summary or "", meta.description or ""]
    for step in playbook.steps:
        parts += [step.title, step.description or ""]
    return "\n".join(parts)


def test_the_demo_playbook_names_only_steps_and_inputs_that_exist() -> None:
    playbook = load_playbook(str(demo_playbook()))
    known = {step.id for step in playbook.steps} | set(playbook.inputs) | {"sh"}

    named = set(re.findall(r"`([a-z][a-z_]*)`", _texts()))

    assert named, "the descriptions name no step: the test reads the wrong text"
    assert named <= known, f"named but not in the playbook: {sorted(named - known)}"


def test_the_undo_order_the_demo_playbook_describes_is_the_engines() -> None:
    described = re.search(r"undoes `(\w+)`, then `(\w+)`", _texts())
    assert described is not None

    shown = runbook("demo")

    assert shown.returncode == 0, shown.stdout + shown.stderr
    undone = re.findall(r"↶ undo (\w+): succeeded", shown.stdout)
    assert undone == list(described.groups())
