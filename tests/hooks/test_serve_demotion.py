"""`runbook serve` and automatic demotion: a level-3 playbook whose run an alert started
ends rollback_failed is at effective level 2 at once, and the next alert proposes it
(nothing runs); escalations about its runs, as many as the policy's `demote:` says
within its window, demote it too."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from demotion_helpers import rollback_failing_playbook, switched_playbook
from serve_fixtures import Server, alert, notification

ServeFactory = Callable[..., Server]


def _standing(server: Server, path: Path) -> dict[str, Any]:
    shown = server.cli("maturity", str(path), "--output", "json")
    assert shown.returncode == 0, shown.stderr
    (entry,) = json.loads(shown.stdout)
    return entry  # type: ignore[no-any-return]


def test_a_failed_rollback_of_an_alerts_run_makes_the_next_alert_a_proposal(
    tmp_path: Path, serve_factory: ServeFactory
) -> None:
    path = rollback_failing_playbook(tmp_path)
    before = path.read_bytes()
    server = serve_factory(path.parent).start()

    assert server.post(notification([alert("ServiceDown", service="api")])).status == 200
    (first,) = server.wait_settled(1)
    assert first["decision"] == "run", first
    (run,) = server.runs()
    assert run["status"] == "rollback_failed", run
    entry = _standing(server, path)
    assert (entry["declared"], entry["effective"]) == (3, 2)

    assert server.post(notification([alert("ServiceDown", service="web")])).status == 200
    rows = server.wait_settled(2)
    (second,) = [row for row in rows if row["trigger_id"] != first["trigger_id"]]
    assert second["decision"] == "proposed", second
    why = f"effective level 2: demoted after {run['run_id']} rollback_failed"
    assert second["reason"].startswith(why), second["reason"]
    assert [item["run_id"] for item in server.runs()] == [run["run_id"]]  # nothing ran
    assert path.read_bytes() == before

    approved = server.cli("approve", second["trigger_id"], "--yes")
    assert "declares level 3 but is at effective level 2" in approved.stderr, approved.stderr
    changes = _standing(server, path)["changes"]
    assert [change["action"] for change in changes] == ["demote"]  # a level-2 run: no more


def test_escalations_within_the_window_demote(tmp_path: Path, serve_factory: ServeFactory) -> None:
    path, switch = switched_playbook(tmp_path)
    got = tmp_path / "escalated"
    config = tmp_path / "serve.yaml"
    config.write_text(f"escalation: {{command: [sh, -c, 'cat >> {got}; echo >> {got}']}}\n")
    server = serve_factory(path.parent, "--config", str(config))
    server.home.mkdir(parents=True, exist_ok=True)
    (server.home / "maturity-policy.yaml").write_text("demote: {escalations: 2}\n")
    server.start()

    assert server.post(notification([alert("ServiceDown", service="api")])).status == 200
    server.wait_settled(1)
    server.wait_for(lambda: got.exists(), "the first escalation ran")
    switch.touch()  # a run between them recovers: no two failures in a row
    between = server.cli("run", str(path), "-i", "service=db", "--yes")
    assert between.returncode == 0, between.stdout + between.stderr
    switch.unlink()
    assert _standing(server, path)["effective"] == 3

    assert server.post(notification([alert("ServiceDown", service="web")])).status == 200
    server.wait_settled(2)
    server.wait_for(lambda: _standing(server, path)["effective"] == 2, "demoted")
    entry = _standing(server, path)
    (demotion,) = [change for change in entry["changes"] if change["action"] == "demote"]
    hooks = [run["run_id"] for run in server.runs() if run["mode"] == "hook"]
    assert demotion["reason"].startswith("demoted after 2 escalations within 24h"), demotion
    assert sorted(demotion["evidence"]) == sorted(hooks)


def test_a_run_queued_before_the_demotion_does_not_start(
    tmp_path: Path, serve_factory: ServeFactory
) -> None:
    path = rollback_failing_playbook(tmp_path)
    server = serve_factory(path.parent, "--concurrency", "1").start()
    both = [alert("ServiceDown", service="api"), alert("ServiceDown", service="web")]

    assert server.post(notification(both)).status == 200
    rows = server.wait_settled(2)
    assert [row["decision"] for row in rows] == ["run", "run"], rows
    (run,) = server.runs()
    assert run["status"] == "rollback_failed", run
    (held,) = [row for row in rows if row["run_id"] != run["run_id"]]
    assert held["state"] == "not_started", held
    why = f"effective level 2 since it was decided: demoted after {run['run_id']} rollback_failed"
    assert held["reason"].startswith(why), held["reason"]


def test_a_bad_policy_file_stops_serve_at_its_line(
    tmp_path: Path, serve_factory: ServeFactory
) -> None:
    path = rollback_failing_playbook(tmp_path)
    server = serve_factory(path.parent)
    server.home.mkdir(parents=True, exist_ok=True)
    policy = server.home / "maturity-policy.yaml"
    policy.write_text("demote:\n  escalations_within: soon\n")
    server.start(wait=False)
    assert server.process is not None
    assert server.process.wait(30) == 2
    assert f"{policy}:2:" in server.log and "demote.escalations_within" in server.log
    assert "Traceback" not in server.log
