"""Regression cases: `runbook regress ID -o CASE.yaml` makes a case of a recorded run or
drill; `runbook drill --case CASE.yaml` runs it as a drill and judges its expectation;
`--dry-run` checks the path without side effects. The "service" of the fast tests is a
state file read by a command probe; one test runs against a real Prometheus."""

from __future__ import annotations

import base64
import json
import stat
import sys
import urllib.parse
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from prom_fixtures import PromStack
from serve_fixtures import Server, alert, notification
from serve_fixtures import write_playbook as write_hook_playbook
from sli_helpers import run_cli, run_id_of
from tree import TESTS

from engine.model.yamlsource import load_source
from engine.modes.regress.read import schema_findings

PUSH_SCRIPT = TESTS / "push_metric.py"

PLAYBOOK = """\
apiVersion: runbook/v1
kind: Playbook
metadata: {{name: regress-test, version: {version}, maturity: 2, owner: tests}}
inputs:
  mode: {{type: string, default: normal}}
{secrets}sli:
{sli}steps:
{steps}{drill}"""

COMMAND_SLI = """\
  probe:
    command: {{run: "grep -qx good {state}"}}
  settle: 0s
  samples: 1
  interval: 200ms
  timeout: 5s
"""

STEPS = """\
  - id: look
    when: "inputs.mode == 'deep'"
    shell: {{run: "echo look >> {log}"}}
    readonly: true
  - id: fix
    irreversible: writes the state the service should have
    shell: {{run: "echo fix >> {log}; echo good > {state}"}}
"""

DRILL = """\
drill:
  inject:
    - id: break_it
      shell: {{run: "echo inject >> {log}; echo bad > {state}"}}
      undo:
        shell: {{run: "echo undo-inject >> {log}; echo good > {state}"}}
  detect_within: 5s
"""


def write_playbook(
    tmp: Path,
    *,
    steps: str = STEPS,
    drill: str = DRILL,
    version: str = "1.0.0",
    secrets: str = "",
    sli: str = COMMAND_SLI,
) -> tuple[Path, Path, Path]:
    """The playbook (in its own folder), its state file and its log."""
    state, log = tmp / "state", tmp / "log"
    if not state.exists():
        state.write_text("good\n")
    fmt = {"state": state, "log": log}
    folder = tmp / "playbooks"
    folder.mkdir(exist_ok=True)
    path = folder / "regress.yaml"
    text = PLAYBOOK.format(
        version=version,
        secrets=secrets,
        sli=sli.format(**fmt),
        steps=steps.format(**fmt),
        drill=drill.format(**fmt),
    )
    path.write_text(text)
    return path, state, log


def recorded_run(path: Path, state: Path, *args: str) -> str:
    """A run of the playbook on a broken service, that recovered: its id."""
    state.write_text("bad\n")
    done = run_cli("run", str(path), *args)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "outcome: recovered" in done.stdout
    return run_id_of(done.stdout)


def regress(record_id: str, case: Path, *args: str) -> None:
    done = run_cli("regress", record_id, "-o", str(case), *args)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr


def read_yaml(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict)
    return data


def dry_run(case: Path, *args: str) -> tuple[int, dict[str, Any]]:
    done = run_cli("drill", "--case", str(case), "--dry-run", "-o", "json", *args)
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, json.loads(done.stdout) if done.stdout.strip() else {}


def drill_case(case: Path, *args: str) -> tuple[int, dict[str, Any]]:
    done = run_cli("drill", "--case", str(case), "--yes", "-o", "json", *args, timeout=120)
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, json.loads(done.stdout)


def ledger_runs() -> list[dict[str, Any]]:
    done = run_cli("runs", "--limit", "1000", "-o", "json")
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout))


def ledger_drills() -> list[dict[str, Any]]:
    done = run_cli("drills", "--limit", "1000", "-o", "json")
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout))


def test_a_run_becomes_a_case_that_validates_is_private_and_says_what_it_expects(
    tmp_path: Path,
) -> None:
    path, state, _ = write_playbook(tmp_path)
    run_id = recorded_run(path, state)
    case = tmp_path / "cases" / "fix.yaml"
    case.parent.mkdir()

    regress(run_id, case)

    assert stat.S_IMODE(case.stat().st_mode) == 0o600
    assert not schema_findings(load_source(str(case)))
    data = read_yaml(case)
    assert data["kind"] == "RegressionCase"
    assert data["source"]["id"] == run_id and data["source"]["kind"] == "run"
    assert data["source"]["file"] == "../playbooks/regress.yaml"  # beside the case
    assert data["fault_context"]["inputs"] == {"mode": "normal"}
    assert data["fault_context"]["alert"] == {}  # a person started the run
    assert data["fault"] == {"inject": "drill.inject", "steps": ["break_it"]}
    expect = data["expect"]
    assert expect["outcome"] == "recovered" and expect["basis"] == "observed"
    assert expect["within"] >= 10 and expect["within"] == int(expect["within"])
    assert expect["steps"] == [{"id": "look", "path": "skipped"}, {"id": "fix", "path": "ran"}]
    text = case.read_text()
    assert "# The fault context:" in text and "# The expectation:" in text


def test_a_case_file_is_not_replaced_without_force(tmp_path: Path) -> None:
    path, state, _ = write_playbook(tmp_path)
    run_id = recorded_run(path, state)
    case = tmp_path / "case.yaml"
    case.write_text("mine\n")

    done = run_cli("regress", run_id, "-o", str(case))

    assert done.returncode == 2, done.stderr
    assert "already exists" in done.stderr and "--force" in done.stderr
    assert case.read_text() == "mine\n"
    regress(run_id, case, "--force")
    assert read_yaml(case)["source"]["id"] == run_id


def test_regress_refuses_a_drills_own_run_and_an_unknown_id(tmp_path: Path) -> None:
    path, _, _ = write_playbook(tmp_path)
    drilled = run_cli("drill", str(path), "--yes", timeout=120)
    assert drilled.returncode == 0, drilled.stdout + drilled.stderr
    part = next(run["run_id"] for run in ledger_runs() if run["mode"] == "drill")

    done = run_cli("regress", part, "-o", str(tmp_path / "case.yaml"))
    unknown = run_cli("regress", "r2001", "-o", str(tmp_path / "other.yaml"))

    assert done.returncode == 2 and "a run of mode drill" in done.stderr, done.stderr
    assert unknown.returncode == 2 and "Traceback" not in unknown.stderr, unknown.stderr
    assert not (tmp_path / "case.yaml").exists() and not (tmp_path / "other.yaml").exists()


BROKEN_FIX = STEPS.replace("echo good >", "echo bad >")
# The playbook fixed: one more step first, so the path is another than the failed run's.
FIXED = '  - id: restart\n    shell: {{run: "echo restart >> {log}"}}\n    readonly: true\n' + STEPS


def failed_run(path: Path, state: Path, *args: str, code: int = 3) -> str:
    """A run of the playbook on a broken service that did not fix it: its id."""
    state.write_text("bad\n")
    done = run_cli("run", str(path), *args)
    assert done.returncode == code, done.stdout + done.stderr
    return run_id_of(done.stdout)


def test_a_run_that_did_not_recover_becomes_a_case_that_fails_until_the_playbook_is_fixed(
    tmp_path: Path,
) -> None:
    path, state, log = write_playbook(tmp_path, steps=BROKEN_FIX)
    run_id = failed_run(path, state)
    case = tmp_path / "case.yaml"

    done = run_cli("regress", run_id, "-o", str(case))

    assert done.returncode == 0, done.stdout + done.stderr
    assert "observed, not enforced" in done.stdout
    assert not schema_findings(load_source(str(case)))
    data = read_yaml(case)
    assert data["source"]["outcome"] == "not_recovered"
    assert data["expect"] == {
        "outcome": "recovered", "within": 5, "basis": "sli_timeout", "no_failed_undo": True,
    }  # fmt: skip
    assert data["observed"]["outcome"] == "not_recovered"
    assert data["observed"]["steps"] == [
        {"id": "look", "path": "skipped"}, {"id": "fix", "path": "ran"},
    ]  # fmt: skip
    assert "the sli timeout" in case.read_text() and "ended not_recovered" in case.read_text()
    state.write_text("good\n")

    unchanged, found = dry_run(case)
    text = run_cli("drill", "--case", str(case), "--dry-run")
    code, report = drill_case(case)

    assert unchanged == 1 and found["unchanged_since_failure"] is True, found
    assert "the playbook that failed is unchanged" in text.stdout, text.stdout
    assert code == 1, report
    assert report["verdict"] == "case_failed" and report["case"]["held"] is False
    assert report["case"]["of_failed_run"] == {"id": run_id, "outcome": "not_recovered"}
    said = {e["name"]: e for e in report["case"]["expectations"]}
    assert said["within"]["held"] is False and said["path"]["held"] is True
    assert "not enforced" in said["path"]["says"]
    shown = run_cli("show", report["drill_id"]).stdout
    assert "came from a failed run" in shown and "the playbook still does not recover" in shown
    assert state.read_text() == "good\n"  # the fault was taken out

    write_playbook(tmp_path, steps=FIXED, version="1.0.1")
    fixed, found = dry_run(case)
    code, report = drill_case(case)

    assert fixed == 0, found  # another path: information, not a failure
    assert found["differences"] == ["step 'restart' was added first (it would run)"]
    assert code == 0, report
    assert report["verdict"] == "passed" and report["case"]["held"] is True
    assert "restart" in log.read_text()


def test_a_drill_that_did_not_recover_becomes_a_case_of_a_failed_run(tmp_path: Path) -> None:
    path, _, _ = write_playbook(tmp_path, steps=BROKEN_FIX)
    done = run_cli("drill", str(path), "--yes", "-o", "json", timeout=120)
    assert done.returncode == 3, done.stdout + done.stderr
    drill_id = json.loads(done.stdout)["drill_id"]
    case = tmp_path / "case.yaml"

    regress(drill_id, case)

    data = read_yaml(case)
    assert data["source"]["kind"] == "drill" and data["source"]["outcome"] == "not_recovered"
    assert (data["expect"]["within"], data["expect"]["basis"]) == (5, "sli_timeout")
    assert {"id": "fix", "path": "ran"} in data["observed"]["steps"]
    unchanged, found = dry_run(case)
    assert unchanged == 1 and found["unchanged_since_failure"] is True, found


def test_a_failed_run_of_a_playbook_with_recover_within_is_expected_within_it(
    tmp_path: Path,
) -> None:
    drill = DRILL + "  recover_within: 20s\n"
    path, state, _ = write_playbook(tmp_path, steps=BROKEN_FIX, drill=drill)
    case = tmp_path / "case.yaml"

    regress(failed_run(path, state), case)

    expect = read_yaml(case)["expect"]
    assert (expect["within"], expect["basis"]) == (20, "recover_within")


def test_a_failed_run_without_an_sli_needs_within_and_is_expected_to_complete(
    tmp_path: Path,
) -> None:
    failing = STEPS.replace("echo good > {state}", "exit 1")
    path, state, _ = write_playbook(tmp_path, steps=failing)
    text = path.read_text()
    path.write_text(text[: text.index("sli:\n")] + text[text.index("steps:\n") :])
    run_id = failed_run(path, state, code=1)
    case = tmp_path / "case.yaml"

    refused = run_cli("regress", run_id, "-o", str(case))
    bad = run_cli("regress", run_id, "-o", str(case), "--within", "soon")

    assert refused.returncode == 2 and "--within" in refused.stderr, refused.stderr
    assert bad.returncode == 2 and "--within" in bad.stderr and "Traceback" not in bad.stderr
    assert not case.exists()
    regress(run_id, case, "--within", "2m")
    data = read_yaml(case)
    assert data["source"]["outcome"] == "failed" and data["observed"]["outcome"] == "failed"
    assert data["expect"]["outcome"] == "completed"
    assert (data["expect"]["within"], data["expect"]["basis"]) == (120, "within_option")
    assert "regress --within" in case.read_text()


def test_within_is_refused_for_a_run_that_recovered(tmp_path: Path) -> None:
    path, state, _ = write_playbook(tmp_path)
    case = tmp_path / "case.yaml"

    done = run_cli("regress", recorded_run(path, state), "-o", str(case), "--within", "1m")

    assert done.returncode == 2 and "--within is for a case of a failed run" in done.stderr
    assert not case.exists()


def test_the_dry_run_of_an_unchanged_playbook_is_the_same_path_and_has_no_side_effects(
    tmp_path: Path,
) -> None:
    path, state, log = write_playbook(tmp_path)
    run_id = recorded_run(path, state)
    case = tmp_path / "case.yaml"
    regress(run_id, case)
    runs, log_before = ledger_runs(), log.read_text()

    code, found = dry_run(case)

    assert code == 0, found
    assert found["same_path"] is True and found["differences"] == []
    assert found["content_hash"]["same"] is True
    assert ledger_runs() == runs and ledger_drills() == []  # nothing recorded
    assert log.read_text() == log_before and state.read_text() == "good\n"  # nothing ran


def test_an_added_step_and_a_changed_when_are_named_by_the_dry_run(tmp_path: Path) -> None:
    path, state, _ = write_playbook(tmp_path)
    case = tmp_path / "case.yaml"
    regress(recorded_run(path, state), case)
    added = '  - id: notify\n    shell: {{run: "true"}}\n    readonly: true\n' + STEPS
    write_playbook(tmp_path, steps=added, version="1.0.1")

    code, found = dry_run(case)

    assert code == 1, found
    assert found["differences"] == ["step 'notify' was added first (it would run)"]
    assert found["content_hash"]["same"] is False  # reported, not the failure itself
    write_playbook(tmp_path, steps=STEPS.replace("== 'deep'", "== 'normal'"), version="1.0.2")
    text = run_cli("drill", "--case", str(case), "--dry-run")
    assert text.returncode == 1, text.stdout + text.stderr
    assert "step 'look' was skipped in the record (`when` false); now it would run" in text.stdout
    assert "changed since the case" in text.stdout


@pytest.mark.parametrize(
    ("edit", "where", "said"),
    [
        (("outcome: recovered", "outcome: fixed"), "outcome:", "'fixed' is not one of"),
        (("  no_failed_undo: true", "  no_failed_undo: true\n  colour: red"), "colour:", "colour"),
        (("  inject: drill.inject", "  inject: [1, 2]"), "inject:", "is not one of"),
    ],
)
def test_an_invalid_case_file_exits_2_at_its_line_and_column(
    tmp_path: Path, edit: tuple[str, str], where: str, said: str
) -> None:
    path, state, log = write_playbook(tmp_path)
    case = tmp_path / "case.yaml"
    regress(recorded_run(path, state), case)
    text = case.read_text()
    assert edit[0] in text
    case.write_text(text.replace(edit[0], edit[1]))
    lines = case.read_text().splitlines()
    line = next(n for n, t in enumerate(lines, 1) if t.lstrip().startswith(where))
    before = log.read_text()

    for args in (("--dry-run",), ("--yes",)):
        done = run_cli("drill", "--case", str(case), *args)
        assert done.returncode == 2, done.stdout + done.stderr
        assert f"{case}:{line}:" in done.stderr and said in done.stderr, done.stderr
        assert "Traceback" not in done.stderr
    assert log.read_text() == before and ledger_drills() == []  # nothing injected


def test_a_case_never_holds_a_secret_and_asks_for_it_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    canary = f"canary-{uuid.uuid4().hex}"
    secrets = "secrets:\n  token: {env: REGRESS_TOKEN}\n"
    with_token = "  token: {type: string, default: none}\n"
    path, state, _ = write_playbook(tmp_path, secrets=secrets)
    path.write_text(path.read_text().replace("inputs:\n", "inputs:\n" + with_token))
    monkeypatch.setenv("REGRESS_TOKEN", canary)
    run_id = recorded_run(path, state, "-i", f"token={canary}")
    monkeypatch.delenv("REGRESS_TOKEN")
    case = tmp_path / "case.yaml"

    regress(run_id, case)

    assert canary not in case.read_text()
    context = read_yaml(case)["fault_context"]
    assert context["supply"] == ["token"] and "token" not in context["inputs"]
    asked = run_cli("drill", "--case", str(case), "--dry-run")
    assert asked.returncode == 2 and "token" in asked.stderr and "-i" in asked.stderr
    code, found = dry_run(case, "-i", "token=another")
    assert code == 0, found


def test_a_drill_of_the_case_passes_and_is_kept_as_the_cases_evidence(tmp_path: Path) -> None:
    path, state, log = write_playbook(tmp_path)
    case = tmp_path / "case.yaml"
    regress(recorded_run(path, state), case, "--name", "disk-full-2026-12")
    log.write_text("")

    code, report = drill_case(case)

    assert code == 0, report
    assert report["verdict"] == "passed"
    assert report["case"]["name"] == "disk-full-2026-12" and report["case"]["held"] is True
    assert [e["name"] for e in report["case"]["expectations"]] == [
        "outcome", "within", "path", "no_failed_undo",
    ]  # fmt: skip
    assert all(e["held"] for e in report["case"]["expectations"])
    assert log.read_text().split() == ["inject", "fix", "undo-inject"]
    shown = json.loads(run_cli("show", report["drill_id"], "-o", "json").stdout)
    assert shown["case"]["name"] == "disk-full-2026-12"
    board = run_cli("maturity", str(path), "-o", "json")
    rows = json.loads(board.stdout)[0]["evidence"]
    drill = next(row for row in rows if row["id"] == report["drill_id"])
    assert drill["detail"] == "drill (case disk-full-2026-12)" and drill["ok"] is True
    assert report["case"]["content_hash"]["same"] is True
    told = f"{report['drill_id']} drill (case disk-full-2026-12)"
    text_board = run_cli("maturity", str(path))
    explained = run_cli("promote", str(path), "--to", "3", "--explain")
    assert told in text_board.stdout, text_board.stdout  # the text says what the JSON does
    assert explained.returncode == 5 and told in explained.stdout, explained.stdout  # refused


def test_a_drill_of_a_case_tells_a_changed_playbook_and_judges_the_path(tmp_path: Path) -> None:
    path, state, _ = write_playbook(tmp_path)
    case = tmp_path / "case.yaml"
    regress(recorded_run(path, state), case)
    write_playbook(tmp_path, version="1.0.1")  # another content, the same path

    done = run_cli("drill", "--case", str(case), "--yes", "--quiet", timeout=120)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "playbook content changed since the case" in done.stdout
    assert "held      path: the same path (fix ran)" in done.stdout


def test_an_expectation_that_does_not_hold_fails_the_drill_with_exit_1(tmp_path: Path) -> None:
    path, state, _ = write_playbook(tmp_path)
    case = tmp_path / "case.yaml"
    regress(recorded_run(path, state), case)
    data = case.read_text()
    case.write_text(data.replace("    path: skipped", "    path: ran", 1))  # `look` ran

    code, report = drill_case(case)

    assert code == 1, report
    assert report["verdict"] == "case_failed" and report["case"]["held"] is False
    path_held = next(e for e in report["case"]["expectations"] if e["name"] == "path")
    assert path_held["held"] is False
    assert "step 'look' ran in the record; now its `when` is false" in path_held["says"]
    assert state.read_text() == "good\n"  # the fault was taken out all the same
    text = run_cli("show", report["drill_id"]).stdout
    assert "NOT HELD  path" in text


def test_a_case_of_a_playbook_without_a_drill_section_says_so_and_is_not_drilled(
    tmp_path: Path,
) -> None:
    path, state, _ = write_playbook(tmp_path, drill="")
    case = tmp_path / "case.yaml"
    regress(recorded_run(path, state), case)
    fault = read_yaml(case)["fault"]
    assert fault["inject"] is None and "no drill section" in fault["note"]

    done = run_cli("drill", "--case", str(case), "--yes")
    code, found = dry_run(case)

    assert done.returncode == 2, done.stdout + done.stderr
    assert "no drill.inject steps" in done.stderr and "drill:" in done.stderr
    assert f"runbook drill --case {case} --dry-run" in done.stderr  # what still works
    assert code == 0, found  # the path is still checked


def test_a_case_of_a_playbook_without_an_sli_hints_at_its_dry_run(tmp_path: Path) -> None:
    path, state, _ = write_playbook(tmp_path)
    case = tmp_path / "case.yaml"
    regress(recorded_run(path, state), case)
    text = path.read_text().replace("version: 1.0.0", "version: 1.0.1")
    path.write_text(text[: text.index("sli:\n")] + text[text.index("steps:\n") :])

    done = run_cli("drill", "--case", str(case), "--yes")

    assert done.returncode == 2, done.stdout + done.stderr
    assert "no sli" in done.stderr and f"runbook drill --case {case} --dry-run" in done.stderr
    assert ledger_drills()[0]["verdict"] == "refused"  # nothing injected


def test_a_drill_becomes_a_case_with_its_recover_within(tmp_path: Path) -> None:
    drill = DRILL + "  recover_within: 20s\n"
    path, _, _ = write_playbook(tmp_path, drill=drill)
    done = run_cli("drill", str(path), "--yes", "-o", "json", timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    drill_id = json.loads(done.stdout)["drill_id"]
    case = tmp_path / "case.yaml"

    regress(drill_id, case)

    data = read_yaml(case)
    assert data["source"]["kind"] == "drill" and data["source"]["id"] == drill_id
    assert data["expect"]["within"] == 20 and data["expect"]["basis"] == "recover_within"
    code, report = drill_case(case)
    assert code == 0, report
    within = next(e for e in report["case"]["expectations"] if e["name"] == "within")
    assert "after the injection" in within["says"]


@pytest.mark.integration
def test_a_run_with_a_prometheus_sli_becomes_a_case_the_drill_passes(
    prom_stack: PromStack, tmp_path: Path
) -> None:
    job = f"job{uuid.uuid4().hex[:8]}"
    expr = f'max(rb_errors{{job="{job}"}})'
    url = f"{prom_stack.pushgateway_url}/metrics/job/{job}"
    push = f"{sys.executable} {PUSH_SCRIPT} {url} rb_errors"
    sli = (
        f"  probe:\n    prometheus: {{{{url: '{prom_stack.prometheus_url}', query: '{expr}'}}}}\n"
        "  healthy: {{below: 1}}\n  settle: 1200ms\n  samples: 2\n  interval: 700ms\n"
        "  timeout: 4s\n"
    ).replace(expr, expr.replace("{", "{{").replace("}", "}}"))
    steps = STEPS.replace("echo good > {state}", f"{push} 0")
    drill = (
        "drill:\n  inject:\n    - id: break_it\n"
        f'      shell: {{{{run: "{push} 5"}}}}\n'
        f'      undo: {{{{shell: {{{{run: "{push} 0"}}}}}}}}\n'
        "  detect_within: 15s\n"
    )
    path, _, _ = write_playbook(tmp_path, sli=sli, steps=steps, drill=drill)
    prom_stack.push(job, "rb_errors", 5)
    prom_stack.wait_for(expr, 5)
    done = run_cli("run", str(path))
    assert done.returncode == 0, done.stdout + done.stderr
    case = tmp_path / "case.yaml"
    regress(run_id_of(done.stdout), case)
    assert not schema_findings(load_source(str(case)))
    prom_stack.wait_for(expr, 0)

    code, report = drill_case(case)

    assert code == 0, report
    assert report["verdict"] == "passed" and report["case"]["held"] is True
    assert report["detected_after"] is not None and report["recovered_after"] is not None


def test_a_run_an_alert_started_becomes_a_case_with_the_alerts_labels(
    tmp_path: Path, serve_factory: Callable[..., Server]
) -> None:
    markers = tmp_path / "markers"
    playbook = write_hook_playbook(tmp_path / "playbooks", markers)
    server = serve_factory(tmp_path / "playbooks").start()
    fired = alert("ServiceDown", service="api", severity="page")
    assert server.post(notification([fired])).status == 200
    (decided,) = server.wait_settled(1)
    assert decided["decision"] == "run", decided
    case = tmp_path / "case.yaml"

    regress(str(decided["run_id"]), case)

    data = read_yaml(case)
    assert data["source"]["mode"] == "hook"
    assert data["fault_context"]["alert"]["labels"] == fired["labels"]
    assert data["fault_context"]["alert"]["annotations"] == fired["annotations"]
    assert data["fault_context"]["alert"]["fingerprint"] == fired["fingerprint"]
    assert data["fault_context"]["inputs"] == {"service": "api"}
    assert data["fault"]["inject"] is None  # the playbook has no drill section
    (markers / "fixed-api").unlink()  # the service is broken again
    code, found = dry_run(case)
    assert code == 0, found
    assert Path(found["file"]).resolve() == playbook.resolve()


SECRET_LABEL_PLAYBOOK = """\
apiVersion: runbook/v1
kind: Playbook
metadata:
  name: secret-label
  version: 1.0.0
  maturity: 3
  owner: tests
  triggers:
    - alertname: ServiceDown
inputs:
  service: {{type: string, pattern: '^[a-z0-9-]+$'}}
secrets:
  token: {{env: REGRESS_TOKEN}}
targets: ["svc/secret-label"]
sli:
  probe:
    command: {{run: "test -f {markers}/fixed; echo $?", timeout: 5s}}
  healthy: {{below: 1}}
  settle: 0s
  samples: 1
  interval: 100ms
steps:
  - id: fix
    timeout: 30s
    shell:
      run: 'test -n "$S" && touch {markers}/fixed'
      env: {{S: "{{{{ inputs.service }}}}"}}
    undo: {{shell: {{run: "rm -f {markers}/fixed"}}}}
"""


def test_a_label_that_gave_a_secret_input_is_redacted_in_the_case(
    tmp_path: Path, serve_factory: Callable[..., Server]
) -> None:
    canary = f"canary-{uuid.uuid4().hex[:12]}"
    folder = tmp_path / "playbooks"
    folder.mkdir()
    (folder / "secret-label.yaml").write_text(SECRET_LABEL_PLAYBOOK.format(markers=tmp_path))
    server = serve_factory(folder, env={"REGRESS_TOKEN": canary}).start()
    assert server.post(notification([alert("ServiceDown", service=canary)])).status == 200
    (decided,) = server.wait_settled(1)
    assert decided["state"] == "started", (decided["reason"], server.log[-2000:])
    case = tmp_path / "case.yaml"

    regress(str(decided["run_id"]), case)

    assert canary not in case.read_text()
    context = read_yaml(case)["fault_context"]
    assert context["supply"] == ["service"] and context["inputs"] == {}
    assert context["alert"]["labels"]["service"] == "«redacted:service»"
    assert context["alert"]["labels"]["alertname"] == "ServiceDown"


def test_every_secret_the_playbook_declares_is_redacted_in_any_form_from_the_alert(
    tmp_path: Path, serve_factory: Callable[..., Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    token = f"tOken/{uuid.uuid4().hex[:12]}+&= x"  # URL-encoding changes it
    key = f"fileKey-{uuid.uuid4().hex[:12]}"
    forms = {
        "raw": token,
        "base64": base64.b64encode(token.encode()).decode(),
        "url": urllib.parse.quote(token, safe=""),
        "url_plus": urllib.parse.quote_plus(token),
        "file_secret": f"key is {key}",
        "file_base64": base64.b64encode(key.encode()).decode(),
    }
    folder = tmp_path / "playbooks"
    folder.mkdir()
    (folder / "key.txt").write_text(key + "\n")
    text = SECRET_LABEL_PLAYBOOK.format(markers=tmp_path)
    declared = (
        "  token: {env: REGRESS_TOKEN}\n  key: {file: key.txt}\n  other: {env: REGRESS_ELSEWHERE}\n"
    )
    text = text.replace("  token: {env: REGRESS_TOKEN}\n", declared)
    (folder / "secret-label.yaml").write_text(text)
    elsewhere = {"REGRESS_TOKEN": token, "REGRESS_ELSEWHERE": "set-only-where-it-ran"}
    server = serve_factory(folder, env=elsewhere).start()
    fired = alert("ServiceDown", service="api", **forms)
    fired["annotations"] = {"description": f"curl -H 'Authorization: {token}'", **forms}
    assert server.post(notification([fired])).status == 200
    (decided,) = server.wait_settled(1)
    assert decided["state"] == "started", (decided["reason"], server.log[-2000:])
    monkeypatch.setenv("REGRESS_TOKEN", token)
    monkeypatch.delenv("REGRESS_ELSEWHERE", raising=False)
    case = tmp_path / "case.yaml"

    done = run_cli("regress", str(decided["run_id"]), "-o", str(case))

    assert done.returncode == 0, done.stdout + done.stderr
    assert "secret other (env REGRESS_ELSEWHERE) cannot be read here" in done.stderr
    assert read_yaml(case)["fault_context"]["unscrubbed"] == ["other (env REGRESS_ELSEWHERE)"]
    written = case.read_text()
    for name, form in forms.items():
        assert form not in written, name
    assert token not in written and key not in written
    alert_data = read_yaml(case)["fault_context"]["alert"]
    for where in ("labels", "annotations"):
        for name in ("raw", "base64", "url", "url_plus"):
            assert alert_data[where][name] == "«redacted:token»", (where, name)
        assert alert_data[where]["file_secret"] == "key is «redacted:key»"
        assert alert_data[where]["file_base64"] == "«redacted:key»"
    assert alert_data["annotations"]["description"] == "curl -H 'Authorization: «redacted:token»'"
    assert alert_data["labels"]["service"] == "api"  # what held no secret is kept


def test_the_dry_run_decides_when_with_the_cases_alert_labels(
    tmp_path: Path, serve_factory: Callable[..., Server]
) -> None:
    paged = (
        "steps:\n  - id: page\n    when: \"alert.labels.severity == 'page'\"\n"
        '    timeout: 5s\n    readonly: true\n    shell: {{run: "true"}}\n'
    )
    folder = tmp_path / "playbooks"
    folder.mkdir()
    text = SECRET_LABEL_PLAYBOOK.replace("steps:\n", paged, 1).format(markers=tmp_path)
    (folder / "paged.yaml").write_text(text)
    server = serve_factory(folder, env={"REGRESS_TOKEN": "unused-here"}).start()
    fired = alert("ServiceDown", service="api", severity="page")
    assert server.post(notification([fired])).status == 200
    (decided,) = server.wait_settled(1)
    assert decided["state"] == "started", (decided["reason"], server.log[-2000:])
    case = tmp_path / "case.yaml"
    regress(str(decided["run_id"]), case)
    assert read_yaml(case)["expect"]["steps"][0] == {"id": "page", "path": "ran"}
    (tmp_path / "fixed").unlink()

    same, _ = dry_run(case)
    case.write_text(case.read_text().replace("severity: page", "severity: ticket"))
    code, found = dry_run(case)

    assert same == 0
    assert code == 1, found
    assert found["differences"] == ["step 'page' ran in the record; now its `when` is false"]
