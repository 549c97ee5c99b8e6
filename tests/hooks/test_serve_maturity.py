"""`runbook serve` and maturity on evidence: a playbook edited under a version the ledger
recorded with other content is not run by an alert (the decision says why); a run an
alert started, and its escalation, are evidence of the content."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from serve_fixtures import Server, alert, notification, write_playbook

ServeFactory = Callable[..., Server]


def test_an_edited_playbook_under_its_recorded_version_is_not_run_by_an_alert(
    tmp_path: Path, serve_factory: ServeFactory
) -> None:
    markers = tmp_path / "markers"
    path = write_playbook(tmp_path / "playbooks", markers)
    server = serve_factory(tmp_path / "playbooks")
    ran = server.cli("run", str(path), "-i", "service=db", "--yes")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    path.write_text(path.read_text().replace("timeout: 30s", "timeout: 31s"))
    server.start()

    assert server.post(notification([alert("ServiceDown", service="api")])).status == 200

    (row,) = server.wait_settled(1)
    assert (row["decision"], row["state"]) == ("run", "not_started"), row
    assert "version 1.0.0 of fix-service was recorded with other content" in row["reason"]
    assert not (markers / "fixed-api").exists()
    assert [run["mode"] for run in server.runs()] == ["live"]


def test_an_escalated_run_is_evidence_of_its_content(
    tmp_path: Path, serve_factory: ServeFactory
) -> None:
    got = tmp_path / "escalated.json"
    config = tmp_path / "serve.yaml"
    config.write_text(f"escalation: {{command: [sh, -c, 'cat > {got}']}}\n")
    path = write_playbook(tmp_path / "playbooks", tmp_path / "markers", action="exit 3")
    server = serve_factory(tmp_path / "playbooks", "--config", str(config)).start()

    assert server.post(notification([alert("ServiceDown", service="api")])).status == 200

    (row,) = server.wait_settled(1)
    server.wait_for(got.exists, "the escalation command ran")
    shown = server.cli("maturity", str(path), "--output", "json")
    assert shown.returncode == 0, shown.stderr
    (entry,) = json.loads(shown.stdout)
    kinds = {(item["kind"], item["id"], item["ok"]) for item in entry["evidence"]}
    assert kinds == {("supervised_run", row["run_id"], False), ("escalation", row["run_id"], False)}
    assert entry["declared"] == 3 and entry["next_level"] is None
