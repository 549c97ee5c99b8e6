"""`runbook toil`: real runs recorded in a real ledger by the CLI — a guided (level-1) run
and a supervised (level-2) run answered at a pseudo-terminal after measured pauses, a
level-3 run and a drill — then the report: the human time is what the humans took and
not what the engine ran, the ranking, the window, the JSON shape, and the refusals."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

from run_fixtures import (
    OPERATOR,
    current_env,
    finish_terminal,
    run_env,  # noqa: F401  (autouse fixture)
    runbook,
    spawn_terminal,
)
from test_drill import drill_json, write_drill

PAUSE = 1.0  # how long the human thinks before each answer
MACHINE = 2.0  # how long the engine's own steps take
SLACK = 1.0  # drawing the prompts and committing to the ledger around the answers, when busy

GUIDED = """\
apiVersion: runbook/v1
kind: Playbook
metadata: {name: guided-chore, version: 1.0.0, maturity: 1, owner: tests}
steps:
  - id: purge
    shell: {run: "echo clearing"}
  - id: look
    manual: {instructions: "Look at the dashboard."}
"""

SUPERVISED = """\
apiVersion: runbook/v1
kind: Playbook
metadata: {name: supervised-chore, version: 2.0.0, maturity: 2, owner: tests}
steps:
  - id: slow
    irreversible: a test step
    shell: {run: "sleep {machine}"}
  - id: gate
    irreversible: a test step
    confirm: Go on?
    shell: {run: "sleep {machine}"}
  - id: look
    manual: {instructions: "Look at the dashboard."}
"""

AUTOMATED = """\
apiVersion: runbook/v1
kind: Playbook
metadata:
  name: automated-chore
  version: 3.0.0
  maturity: 3
  owner: tests
  triggers: [{alertname: ChoreDue}]
targets: [chore]
sli:
  probe: {command: {run: "true"}}
  settle: 0s
  samples: 1
  timeout: 5s
steps:
  - id: slow
    timeout: 10s
    irreversible: a test step
    shell: {run: "sleep {machine}"}
"""

RETRIED = """\
apiVersion: runbook/v1
kind: Playbook
metadata: {name: retried-chore, version: 1.0.0, maturity: 1, owner: tests}
steps:
  - id: flaky
    shell: {run: "systemctl restart flaky"}
    retry: {attempts: 2, backoff: 3s, jitter: false}
"""

UNDONE = """\
apiVersion: runbook/v1
kind: Playbook
metadata: {name: undone-chore, version: 1.0.0, maturity: 2, owner: tests}
steps:
  - id: fix
    shell: {run: "sleep {machine}"}
    undo: {manual: {instructions: "Put it back by hand."}}
"""

WINDOW_KEYS = {"since", "until", "weeks"}
TOTAL_KEYS = {"toil_runs", "automated_runs", "drills", "human_seconds"}
ENTRY_KEYS = {
    "rank",
    "playbook",
    "versions",
    "toil_runs",
    "guided_runs",
    "supervised_runs",
    "runs_by_mode",
    "automated_runs",
    "drills",
    "human_seconds",
    "human_seconds_steps",
    "human_seconds_confirm",
    "human_seconds_per_run",
    "runs_per_week",
    "human_seconds_per_week",
    "last_run",
    "operators",
    "missing_for_next_level",
}


def _write(name: str, text: str) -> str:
    path = current_env().work / f"{name}.yaml"
    path.write_text(text.replace("{machine}", str(MACHINE)))
    return str(path)


def _guided_run() -> None:
    child = spawn_terminal("run", _write("guided", GUIDED))
    _answer(child, "d")
    _answer(child, "d")
    assert finish_terminal(child) == 0


def _supervised_run() -> None:
    child = spawn_terminal("run", _write("supervised", SUPERVISED), timeout=30)
    child.expect(r"Go on\?")
    time.sleep(PAUSE)
    child.sendline("y")
    _answer(child, "d")
    assert finish_terminal(child, timeout=30) == 0


def _automated_run() -> None:
    done = runbook("run", _write("automated", AUTOMATED), "--yes", "--force")
    assert done.returncode == 0, done.stdout + done.stderr


def _answer(child: Any, answer: str) -> None:
    child.expect(r"result \(done, failed, skipped\) \[done\]: ")
    time.sleep(PAUSE)
    child.sendline(answer)
    child.expect(r"note \(optional\)")
    child.sendline("")


def _toil(*args: str) -> dict[str, Any]:
    done = runbook("toil", "--output", "json", *args)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert isinstance(report, dict)
    return report


def _runs() -> list[dict[str, Any]]:
    done = runbook("runs", "--output", "json")
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout))


def _by_name(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["playbook"]: entry for entry in report["playbooks"]}


def test_human_time_is_what_the_humans_took_and_the_ranking_follows_it(tmp_path: Path) -> None:
    _guided_run()
    _guided_run()
    _supervised_run()
    _automated_run()
    code, _ = drill_json(write_drill(tmp_path)[0])
    assert code == 0
    report = _toil()
    entries = _by_name(report)

    guided = entries["guided-chore"]
    assert guided["guided_runs"] == 2 and guided["supervised_runs"] == 0
    assert 4 * PAUSE <= guided["human_seconds"] <= 4 * PAUSE + SLACK, guided
    assert guided["human_seconds_confirm"] == 0

    supervised = entries["supervised-chore"]
    assert supervised["supervised_runs"] == 1 and supervised["runs_by_mode"] == {"live": 1}
    # The manual step and the confirm gate; never the two steps the engine slept through.
    assert PAUSE <= supervised["human_seconds_steps"] <= PAUSE + SLACK, supervised
    assert PAUSE <= supervised["human_seconds_confirm"] <= PAUSE + SLACK, supervised
    assert supervised["human_seconds"] < 2 * MACHINE

    automated = entries["automated-chore"]
    assert automated["automated_runs"] == 1 and automated["toil_runs"] == 0
    assert automated["human_seconds"] == 0 and automated["last_run"] is None
    drilled = entries["drill-test"]
    assert drilled["drills"] == 1 and drilled["toil_runs"] == 0 and drilled["human_seconds"] == 0

    ranked = [entry["playbook"] for entry in report["playbooks"]]
    assert ranked[:2] == ["guided-chore", "supervised-chore"], ranked
    assert [entry["rank"] for entry in report["playbooks"]] == [1, 2, 3, 4]
    assert report["totals"] == {
        "toil_runs": 3,
        "automated_runs": 1,
        "drills": 1,
        "human_seconds": guided["human_seconds"] + supervised["human_seconds"],
    }
    assert guided["operators"] == [OPERATOR] and guided["versions"] == ["1.0.0"]
    assert math.isclose(guided["runs_per_week"], 2 / report["window"]["weeks"])


def test_the_wait_before_a_retry_and_what_a_rollback_runs_are_the_engines() -> None:
    child = spawn_terminal("run", _write("retried", RETRIED))
    _answer(child, "f")  # the human says it failed; the engine waits, then asks again
    _answer(child, "d")
    assert finish_terminal(child) == 0
    child = spawn_terminal("run", _write("undone", UNDONE))
    assert finish_terminal(child) == 0
    run_id = _runs()[0]["run_id"]
    child = spawn_terminal("rollback", run_id)
    child.expect(r"\[y/N\]: ")
    child.sendline("y")
    _answer(child, "d")  # the manual undo
    assert finish_terminal(child) == 0

    entries = _by_name(_toil())
    retried = entries["retried-chore"]
    assert 2 * PAUSE <= retried["human_seconds"] <= 2 * PAUSE + SLACK, retried  # not the 3s
    undone = entries["undone-chore"]
    assert undone["runs_by_mode"] == {"live": 1, "rollback": 1}, undone
    assert PAUSE <= undone["human_seconds_steps"] <= PAUSE + SLACK, undone
    assert undone["human_seconds"] < MACHINE


def test_the_json_shape_is_stable(tmp_path: Path) -> None:
    _supervised_run()
    report = _toil("--since", "2w")
    assert set(report) == {"window", "totals", "playbooks"}
    assert set(report["window"]) == WINDOW_KEYS and set(report["totals"]) == TOTAL_KEYS
    assert math.isclose(report["window"]["weeks"], 2.0)
    (entry,) = report["playbooks"]
    assert set(entry) == ENTRY_KEYS
    missing = entry["missing_for_next_level"]  # as `runbook maturity` judges the file
    assert any(line.startswith("passed_drills: 0 of 1 passed drills") for line in missing)
    assert any(line.startswith("exercised_undos: 0 of 1") for line in missing)
    for instant in (report["window"]["since"], report["window"]["until"], entry["last_run"]):
        assert instant.endswith("Z") and "T" in instant, instant
    shown = runbook("toil")
    assert shown.returncode == 0, shown.stderr
    assert "supervised-chore" in shown.stdout and "last 30d" in shown.stdout
    assert "see `runbook maturity`" in shown.stdout and "total: 1 toil run(s)" in shown.stdout


def test_since_leaves_out_the_runs_before_the_window() -> None:
    _guided_run()
    between = time.time()
    time.sleep(1.1)
    _supervised_run()
    since = f"{math.ceil(time.time() - between)}s"
    assert list(_by_name(_toil("--since", since))) == ["supervised-chore"]
    assert set(_by_name(_toil())) == {"guided-chore", "supervised-chore"}


def test_a_refused_run_is_no_toil() -> None:
    healthy = AUTOMATED.replace("maturity: 3", "maturity: 2").replace("automated", "refused")
    path = _write("refused", healthy)
    _supervised_run()

    refused = runbook("run", path, "--yes")  # the SLI is healthy: nothing to fix
    assert refused.returncode == 5 and "refused" in refused.stdout, refused.stdout

    assert list(_by_name(_toil())) == ["supervised-chore"]
    assert _toil()["totals"]["toil_runs"] == 1


def test_an_empty_ledger_says_so_and_succeeds() -> None:
    done = runbook("toil")
    assert done.returncode == 0, done.stderr
    assert "no runs in the ledger in this window" in done.stdout
    report = _toil("--since", "12h")
    assert report["playbooks"] == [] and report["totals"]["toil_runs"] == 0


def test_a_bad_since_is_a_usage_error() -> None:
    for bad in ("30x", "0d", "-1d", ""):
        done = runbook("toil", "--since", bad)
        assert done.returncode == 2, (bad, done.stdout, done.stderr)
        assert "--since" in done.stderr and "30d" in done.stderr, done.stderr
        assert "Traceback" not in done.stderr and done.stdout == ""
