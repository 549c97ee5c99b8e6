"""`runbook regress INCIDENT_ID -o CASE.yaml`: the case of an incident — its first
alert as the fault context (its secrets redacted), the playbook and expectation of the
run that remediated it; an incident whose runs are of several playbooks is refused with
the runs to name instead."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from serve_fixtures import Server, alert, notification
from serve_fixtures import write_playbook as write_hook_playbook
from sli_helpers import run_cli
from test_regress import dry_run, read_yaml, regress

from engine.model.yamlsource import load_source
from engine.modes.regress.read import schema_findings


def incident_of(server: Server) -> dict[str, Any]:
    (incident,) = json.loads(server.cli("incidents", "--all", "--output", "json").stdout)
    return incident  # type: ignore[no-any-return]


def test_an_incident_becomes_the_case_of_its_remediating_run_with_its_first_alert(
    tmp_path: Path, serve_factory: Callable[..., Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    markers = tmp_path / "markers"
    canary = f"canary-{uuid.uuid4().hex[:12]}"
    playbook = write_hook_playbook(
        tmp_path / "playbooks", markers, extra="secrets:\n  token: {env: REGRESS_TOKEN}\n"
    )
    server = serve_factory(tmp_path / "playbooks", env={"REGRESS_TOKEN": canary}).start()
    first = alert("ServiceDown", service="api", leaked=canary)
    assert server.post(notification([first])).status == 200
    server.wait_settled(1)
    second = alert("ServiceDown", service="web")
    assert server.post(notification([first, second])).status == 200
    server.wait_settled(3)
    incident = incident_of(server)
    assert len(incident["runs"]) == 2
    last_run = incident["runs"][-1]  # in start order: the run of the second alert
    case = tmp_path / "case.yaml"
    monkeypatch.setenv("REGRESS_TOKEN", canary)

    regress(incident["incident_id"][:16], case)

    assert canary not in case.read_text()
    assert not schema_findings(load_source(str(case)))
    data = read_yaml(case)
    assert data["source"]["incident"] == incident["incident_id"]
    assert data["source"]["kind"] == "run" and data["source"]["id"] == last_run
    labels = data["fault_context"]["alert"]["labels"]
    assert labels["service"] == "api" and labels["leaked"] == "«redacted:token»"
    assert data["fault_context"]["alert"]["fingerprint"] == first["fingerprint"]
    assert data["fault_context"]["inputs"] == {"service": "web"}  # the remediating run's
    assert data["expect"]["outcome"] == "recovered"
    assert data["expect"]["steps"] == [{"id": "fix", "path": "ran"}]
    (markers / "fixed-web").unlink()
    code, found = dry_run(case)
    assert code == 0, found
    assert Path(found["file"]).resolve() == playbook.resolve()


def test_an_incident_of_runs_of_two_playbooks_is_refused_naming_its_runs(
    tmp_path: Path, serve_factory: Callable[..., Server]
) -> None:
    markers = tmp_path / "markers"
    write_hook_playbook(tmp_path / "playbooks", markers)
    server = serve_factory(tmp_path / "playbooks").start()
    assert server.post(notification([alert("ServiceDown", service="api")])).status == 200
    (decided,) = server.wait_settled(1)
    incident = incident_of(server)
    other = tmp_path / "other.yaml"
    other.write_text(
        "apiVersion: runbook/v1\nkind: Playbook\n"
        "metadata: {name: other-fix, version: 1.0.0, maturity: 2, owner: tests}\n"
        "steps:\n  - id: note\n    readonly: true\n    shell: {run: 'true'}\n"
    )
    ran = run_cli("run", str(other), "--yes", "--incident", incident["incident_id"])
    assert ran.returncode == 0, ran.stderr
    case = tmp_path / "case.yaml"

    done = run_cli("regress", incident["incident_id"], "-o", str(case))

    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr and not case.exists()
    assert "has runs of 2 playbooks (fix-service, other-fix)" in done.stderr
    assert "runbook regress RUN_ID -o CASE.yaml" in done.stderr
    assert f"{decided['run_id']} (fix-service)" in done.stderr
    no_runs = run_cli("incident", "open", "--title", "nothing ran").stdout.split()[-1]
    refused = run_cli("regress", no_runs, "-o", str(case))
    assert refused.returncode == 2 and "an incident without a run" in refused.stderr
