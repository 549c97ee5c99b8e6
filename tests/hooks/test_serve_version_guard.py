"""`runbook serve` and a playbook edited under a version the ledger recorded with other
content: the alert's run never starts, and the decision says why."""

from __future__ import annotations

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
