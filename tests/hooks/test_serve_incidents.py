"""Incidents as `runbook serve` opens and fills them: a real server process on loopback,
a real level-3 playbook run, the incident read back through the CLI."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from serve_fixtures import Server, alert, notification, write_playbook

ServeFactory = Callable[..., Server]


def _rfc3339(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _incidents(server: Server) -> list[dict[str, Any]]:
    done = server.cli("incidents", "--all", "--output", "json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def test_an_alert_opens_an_incident_its_run_responds_and_mitigates_resolved_ends_it(
    tmp_path: Path, serve_factory: ServeFactory
) -> None:
    markers = tmp_path / "markers"
    write_playbook(tmp_path / "playbooks", markers)
    server = serve_factory(tmp_path / "playbooks").start()
    starts_at = _rfc3339(time.time() - 120)
    firing = alert("ServiceDown", starts_at=starts_at, service="api", severity="page")
    posted = time.time()
    assert server.post(notification([firing])).status == 200
    (ran,) = server.wait_settled(1)
    assert ran["decision"] == "run"

    (opened,) = _incidents(server)
    times = opened["times"]
    assert opened["title"] == "ServiceDown on api" and opened["severity"] == "page"
    assert times["impact_started"] == {"at": starts_at, "source": "record"}
    assert times["detected"]["source"] == "record"
    assert posted - 1 <= _epoch(times["detected"]["at"]) <= time.time()
    assert opened["runs"] == [ran["run_id"]]
    assert times["response_started"]["source"] == "record"
    assert _epoch(times["response_started"]["at"]) >= _epoch(times["detected"]["at"])
    assert times["mitigated"]["source"] == "record"  # the run's SLI recovered
    assert _epoch(times["mitigated"]["at"]) >= _epoch(times["response_started"]["at"])
    assert opened["status"] == "mitigated" and times["resolved"]["at"] is None
    (member,) = opened["alerts"]
    assert member["labels"] == firing["labels"] and member["fingerprint"] == firing["fingerprint"]
    assert member["generator_url"] == firing["generatorURL"] and member["status"] == "firing"

    ends_at = _rfc3339(time.time())
    resolved = {**firing, "status": "resolved", "endsAt": ends_at}
    assert server.post(notification([resolved])).status == 200
    server.wait_settled(2)
    (closed,) = _incidents(server)
    assert closed["incident_id"] == opened["incident_id"]
    assert closed["status"] == "resolved"
    assert closed["times"]["resolved"] == {"at": ends_at, "source": "record"}
    assert closed["ttr_seconds"] is not None and closed["ttr_seconds"] > 100
    told = server.cli("show", closed["incident_id"]).stdout
    assert f"  {ran['run_id']}" in told and "resolved          " in told


def test_resends_and_ha_copies_keep_one_incident_a_second_alert_of_the_group_joins(
    tmp_path: Path, serve_factory: ServeFactory
) -> None:
    markers = tmp_path / "markers"
    write_playbook(tmp_path / "playbooks", markers, level=2)  # proposed: nothing runs
    server = serve_factory(tmp_path / "playbooks").start()
    first = alert("ServiceDown", service="api")
    for _ in range(3):  # group_interval resends, an HA peer's copy
        assert server.post(notification([first])).status == 200
    server.wait_settled(3)
    (incident,) = _incidents(server)
    assert len(incident["alerts"]) == 1
    (proposal,) = incident["proposals"]
    assert proposal["state"] == "open" and proposal["run_id"] is None

    second = alert("ServiceDown", service="web")  # the same group (alertname)
    assert server.post(notification([first, second])).status == 200
    server.wait_settled(5)
    other = alert("DiskFull", service="db")  # another group: its own incident
    assert server.post(notification([other])).status == 200
    server.wait_settled(6)
    by_size = {len(i["alerts"]): i for i in _incidents(server)}
    assert sorted(by_size) == [1, 2]
    joined = by_size[2]
    assert joined["incident_id"] == incident["incident_id"]
    assert [a["labels"]["service"] for a in joined["alerts"]] == ["api", "web"]
    assert len(joined["proposals"]) == 2
    assert by_size[1]["alerts"][0]["alertname"] == "DiskFull"


def test_a_proposal_approved_later_brings_its_run_into_the_incident(
    tmp_path: Path, serve_factory: ServeFactory
) -> None:
    markers = tmp_path / "markers"
    write_playbook(tmp_path / "playbooks", markers, level=2)
    server = serve_factory(tmp_path / "playbooks").start()
    assert server.post(notification([alert("ServiceDown", service="api")])).status == 200
    (proposed,) = server.wait_settled(1)
    approved = server.cli("approve", proposed["trigger_id"], "--yes", "--quiet")
    assert approved.returncode == 0, approved.stderr

    (incident,) = _incidents(server)
    (proposal,) = incident["proposals"]
    assert proposal["state"] == "approved" and incident["runs"] == [proposal["run_id"]]
    assert proposal["approved_by"] and proposal["approved_at"]
    assert incident["times"]["response_started"]["source"] == "record"
    assert incident["times"]["mitigated"]["source"] == "record"
    assert incident["status"] == "mitigated"


def test_a_flapping_alert_reopens_its_incident_within_the_window_a_human_resolved_one_not(
    tmp_path: Path, serve_factory: ServeFactory
) -> None:
    markers = tmp_path / "markers"
    write_playbook(tmp_path / "playbooks", markers, level=2)  # proposed: nothing runs
    config = tmp_path / "serve.yaml"
    config.write_text("incidents: {reopen_within: 10m}\n")
    server = serve_factory(tmp_path / "playbooks", "--config", str(config)).start()
    decisions = 0

    def send(firing: dict[str, Any], starts: str, ends: str | None = None) -> None:
        nonlocal decisions
        sent = {**firing, "startsAt": starts}
        if ends is not None:
            sent = {**sent, "status": "resolved", "endsAt": ends}
        assert server.post(notification([sent])).status == 200
        decisions += 1
        server.wait_settled(decisions)

    api = alert("ServiceDown", service="api")
    send(api, "2026-12-07T10:00:00Z")
    send(api, "2026-12-07T10:00:00Z", ends="2026-12-07T10:05:00Z")
    (resolved,) = _incidents(server)
    assert resolved["status"] == "resolved"
    # fired again 9 minutes after its incident resolved: the same incident, open again
    send(api, "2026-12-07T10:14:00Z")
    (reopened,) = _incidents(server)
    assert reopened["incident_id"] == resolved["incident_id"]
    assert reopened["status"] == "open" and reopened["times"]["resolved"]["at"] is None
    assert [a["starts_at"] for a in reopened["alerts"]] == [
        "2026-12-07T10:00:00Z",
        "2026-12-07T10:14:00Z",
    ]
    (again,) = reopened["reopened"]
    assert again["starts_at"] == "2026-12-07T10:14:00Z"
    assert again["resolved_at"] == "2026-12-07T10:05:00.000Z"
    listed = server.cli("incidents", "--open", "--output", "json")
    assert [i["incident_id"] for i in json.loads(listed.stdout)] == [resolved["incident_id"]]
    told = server.cli("show", resolved["incident_id"]).stdout
    assert "reopened:" in told and "ServiceDown fired again" in told
    drafted = server.cli("postmortem", resolved["incident_id"])
    assert drafted.returncode == 0, drafted.stderr
    assert "reopened: ServiceDown fired again, resolved at" in drafted.stdout
    # resolved again, and fired 11 minutes later: past the window, a new incident
    send(api, "2026-12-07T10:14:00Z", ends="2026-12-07T10:20:00Z")
    send(api, "2026-12-07T10:31:00Z")
    newest, older = _incidents(server)
    assert older["incident_id"] == resolved["incident_id"] and older["status"] == "resolved"
    assert newest["status"] == "open" and newest["reopened"] == []

    # a human resolved it: the next firing, however soon, opens a new incident
    db = alert("DiskFull", service="db")
    send(db, "2026-12-07T11:00:00Z")
    human = next(i for i in _incidents(server) if i["alerts"][0]["alertname"] == "DiskFull")
    done = server.cli("incident", "resolve", human["incident_id"], "--at", "2026-12-07T11:02:00Z")
    assert done.returncode == 0, done.stderr
    send(db, "2026-12-07T11:00:00Z", ends="2026-12-07T11:03:00Z")
    send(db, "2026-12-07T11:04:00Z")
    disk = [i for i in _incidents(server) if i["alerts"][0]["alertname"] == "DiskFull"]
    assert len(disk) == 2 and all(i["reopened"] == [] for i in disk)


def test_a_reopen_window_that_is_not_a_duration_is_refused(
    tmp_path: Path, serve_factory: ServeFactory
) -> None:
    write_playbook(tmp_path / "playbooks", tmp_path / "markers")
    config = tmp_path / "serve.yaml"
    config.write_text("incidents: {reopen_within: soon}\n")
    server = serve_factory(tmp_path / "playbooks")
    done = server.cli("serve", "--playbooks", str(server.playbooks), "--config", str(config))
    assert done.returncode == 2
    assert f"{config}: incidents.reopen_within" in done.stderr
    assert "Traceback" not in done.stderr
