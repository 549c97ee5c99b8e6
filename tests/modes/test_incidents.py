"""`--incident ID` on `runbook drill` and `runbook run`: the drill (the run) joins the
incident when it starts, and `runbook show` names the incident of a run, a drill and its
runs."""

from __future__ import annotations

import json
import re
from pathlib import Path

from sli_helpers import run_cli, run_id_of
from test_drill import drill_json, write_drill


def test_a_drill_with_incident_is_a_member_and_starts_the_response(tmp_path: Path) -> None:
    path, _, _ = write_drill(tmp_path)
    opened = run_cli("incident", "open", "--title", "game day: state file")
    incident_id = opened.stdout.split()[-1]

    code, report = drill_json(path, "--incident", incident_id)

    assert code == 0, report
    shown = json.loads(run_cli("show", incident_id, "--output", "json").stdout)
    assert shown["runs"] == shown["attached_runs"] == [report["drill_id"]]
    assert shown["times"]["response_started"]["source"] == "record"
    refused = run_cli("drill", str(path), "--yes", "--incident", "i1999")
    assert refused.returncode == 2 and "no incident 'i1999'" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_show_names_the_incident_of_a_drill_and_of_its_runs(tmp_path: Path) -> None:
    path, _, _ = write_drill(tmp_path)
    incident_id = run_cli("incident", "open", "--title", "game day").stdout.split()[-1]
    code, report = drill_json(path, "--incident", incident_id)
    assert code == 0, report
    said = f"incident: {incident_id} (runbook show {incident_id})"

    drill_text = run_cli("show", report["drill_id"]).stdout
    drill_data = json.loads(run_cli("show", report["drill_id"], "--output", "json").stdout)
    remediate = next(part["run_id"] for part in report["parts"] if part["name"] == "remediate")
    run_text = run_cli("show", remediate).stdout
    run_data = json.loads(run_cli("show", remediate, "--output", "json").stdout)

    assert said in drill_text.splitlines() and drill_data["incident"] == incident_id
    assert said in run_text.splitlines() and run_data["run"]["incident"] == incident_id


def test_show_names_the_incident_of_a_run_and_not_of_a_run_outside_one(tmp_path: Path) -> None:
    path = tmp_path / "touch.yaml"
    path.write_text(
        "apiVersion: runbook/v1\nkind: Playbook\n"
        "metadata: {name: touch-it, version: 1.0.0, maturity: 2, owner: tests}\n"
        "steps:\n  - id: touch\n    readonly: true\n    shell: {run: ['true']}\n"
    )
    incident_id = run_cli("incident", "open", "--title", "checkout errors").stdout.split()[-1]
    member = run_id_of(run_cli("run", str(path), "--yes", "--incident", incident_id).stdout)
    alone = run_id_of(run_cli("run", str(path), "--yes").stdout)

    member_text = run_cli("show", member).stdout
    member_data = json.loads(run_cli("show", member, "--output", "json").stdout)
    alone_data = json.loads(run_cli("show", alone, "--output", "json").stdout)

    assert f"incident: {incident_id} (runbook show {incident_id})" in member_text.splitlines()
    assert member_data["run"]["incident"] == incident_id
    assert alone_data["run"]["incident"] is None
    assert "incident:" not in run_cli("show", alone).stdout


def test_the_postmortem_of_an_incident_tells_its_drill_and_the_drills_runs(
    tmp_path: Path,
) -> None:
    path, _, _ = write_drill(tmp_path)
    incident_id = run_cli("incident", "open", "--title", "game day").stdout.split()[-1]
    code, report = drill_json(path, "--incident", incident_id)
    assert code == 0, report

    done = run_cli("postmortem", incident_id)

    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    for part in report["parts"]:
        assert re.search(rf"\| run {part['run_id']} \(\w+\) started \|", done.stdout), part
    assert "- **Playbook:** drill\\-test@1.2.0 _(from the record)_" not in done.stdout
    assert "- **Playbook:** drill-test@1.2.0 _(from the record)_" in done.stdout
    assert "- **Response started:**" in done.stdout
