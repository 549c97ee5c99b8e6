"""`--output json` of `runbook show PLAYBOOK`, and `runbook runs --outcome` and `--mode`
checked against the outcomes and modes there are: real processes, as a script with jq
would run them."""

from __future__ import annotations

import json
from pathlib import Path

from test_cli_validate import REPO, assert_clean_failure, runbook

from engine.core.outcome import Outcome

DEMO = REPO / "playbooks" / "demo" / "disk-cleanup-demo.yaml"
WITH_SECRET = REPO / "playbooks" / "provider" / "model-provider-outage.yaml"


def show_json(file: Path, tmp_path: Path) -> dict[str, object]:
    run = runbook("show", str(file), "--output", "json", cwd=tmp_path, home=tmp_path / "home")
    assert run.code == 0, run.out + run.err
    summary = json.loads(run.out)
    assert isinstance(summary, dict)
    return summary


def test_show_playbook_json_describes_it(tmp_path: Path) -> None:
    summary = show_json(DEMO, tmp_path)
    assert summary["name"] == "disk-cleanup-demo"
    assert summary["maturity"] == 2 and summary["maturity_name"] == "scripted"
    assert isinstance(summary["version"], str) and summary["description"]
    sli = summary["sli"]
    assert isinstance(sli, dict) and sli["probe"] == "command"
    steps = summary["steps"]
    assert isinstance(steps, list)
    first = steps[0]
    assert first["id"] == "inspect" and first["type"] == "shell" and first["readonly"] is True
    assert first["undo"] is None and first["title"]
    assert any(step["undo"] for step in steps), "the demo has a step with an undo"
    assert {"id", "title", "type", "readonly", "undo"} <= set(first)


def test_show_playbook_json_names_secrets_only(tmp_path: Path) -> None:
    summary = show_json(WITH_SECRET, tmp_path)
    assert summary["secrets"] == ["admin_token"]
    assert "GATEWAY_ADMIN_TOKEN" not in json.dumps(summary["secrets"])
    inputs = summary["inputs"]
    assert isinstance(inputs, list) and all({"name", "type"} <= set(i) for i in inputs)


def test_runs_with_an_unknown_outcome_is_a_usage_error(tmp_path: Path) -> None:
    run = runbook("runs", "--outcome", "bogus", cwd=tmp_path, home=tmp_path / "home")
    assert_clean_failure(run, 2)
    assert "'bogus' is not one of" in run.err
    for outcome in Outcome:
        assert repr(outcome.value) in run.err
    assert run.out == ""


def test_runs_with_an_unknown_mode_is_a_usage_error(tmp_path: Path) -> None:
    run = runbook("runs", "--mode", "bogus", cwd=tmp_path, home=tmp_path / "home")
    assert_clean_failure(run, 2)
    assert "'bogus' is not one of" in run.err
    for mode in ("live", "drill", "rollback"):
        assert repr(mode) in run.err
    assert run.out == ""


def test_runs_with_a_known_outcome_is_accepted(tmp_path: Path) -> None:
    run = runbook("runs", "--outcome", "failed", "-o", "json", cwd=tmp_path, home=tmp_path / "home")
    assert run.code == 0, run.err
    assert json.loads(run.out) == []


def test_show_playbook_json_tells_its_triggers_and_where_an_alert_gives_each_input(
    tmp_path: Path,
) -> None:
    alerted = REPO / "tests" / "playbooks" / "valid" / "triggers-and-alert-inputs.yaml"
    summary = show_json(alerted, tmp_path)
    assert summary["triggers"] == [
        {
            "alertname": "PodCrashLooping",
            "labels": {"team": "sre"},
            "matchers": [
                'severity=~"critical|page"',
                'env!="dev"',
                'namespace !~ "kube-.*"',
                'quote="say \\"hi\\""',
                'cluster=~"prod-.*"',
                'tier!="batch"',
            ],
        },
        {"alertname": "PodOOMKilled", "labels": {}, "matchers": []},
    ]
    inputs = summary["inputs"]
    assert isinstance(inputs, list)
    sources = {item["name"]: item["from"] for item in inputs}
    assert sources == {
        "pod": None,
        "namespace": None,
        "node": "labels.instance",
        "restarts": "annotations.restart_count",
    }


def test_show_playbook_tells_its_slo_exactly(tmp_path: Path) -> None:
    file = REPO / "tests" / "playbooks" / "valid" / "slo-declared.yaml"
    sli = show_json(file, tmp_path)["sli"]
    assert isinstance(sli, dict)
    assert sli["slo"] == {
        "objective": "99.9",
        "window": "30d",
        "window_s": 2_592_000.0,
        "budget_s": 2_592.0,
    }
    text = runbook("show", str(file), cwd=tmp_path, home=tmp_path / "home")
    assert "; SLO 99.9% over 30d" in text.out
    assert show_json(DEMO, tmp_path)["sli"]["slo"] is None  # type: ignore[index]
