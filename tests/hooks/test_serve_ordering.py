"""`runbook serve` when notifications come out of order or in bulk: a late firing after
its resolution, a stale resolution of an earlier firing, one large group."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from serve_fixtures import Server, alert, notification, write_playbook

ServeFactory = Callable[..., Server]
T1 = "2026-12-07T10:00:00.000Z"
T2 = "2026-12-07T10:30:00.000Z"


def test_a_firing_that_arrives_after_its_own_resolution_starts_nothing(
    tmp_path: Path, serve_factory: ServeFactory
) -> None:
    markers = tmp_path / "markers"
    write_playbook(tmp_path / "playbooks", markers)
    server = serve_factory(tmp_path / "playbooks").start()
    server.post(
        notification([alert("ServiceDown", status="resolved", starts_at=T1, service="api")])
    )
    server.wait_settled(1)
    server.post(notification([alert("ServiceDown", starts_at=T1, service="api")]))  # late copy
    rows = server.wait_settled(2)
    assert rows[0]["decision"] == "resolved"
    assert "resolved before it was decided" in rows[0]["reason"]
    assert server.runs() == []
    assert not (markers / "fixed-api").exists()


def test_a_late_resolution_of_an_earlier_firing_leaves_the_current_one_alone(
    tmp_path: Path, serve_factory: ServeFactory
) -> None:
    markers = tmp_path / "markers"
    write_playbook(tmp_path / "playbooks", markers, sleep=1)
    config = tmp_path / "serve.yaml"
    config.write_text("guards: {cooldown: 0s}\n")
    server = serve_factory(tmp_path / "playbooks", "--concurrency", "1", "--config", str(config))
    server.start()
    server.post(notification([alert("ServiceDown", starts_at=T1, service="blocker")]))
    server.post(notification([alert("ServiceDown", starts_at=T2, service="api")]))  # queued
    stale = alert("ServiceDown", status="resolved", starts_at=T1, service="api")
    server.post(notification([stale]))
    rows = server.wait_settled(3)
    ran = {row["inputs"]["service"]: row for row in rows if row["decision"] == "run"}
    assert ran["api"]["state"] == "started", ran["api"]["reason"]
    assert (markers / "fixed-api").exists()


def test_a_large_group_is_decided_quickly_and_each_alert_once(
    tmp_path: Path, serve_factory: ServeFactory
) -> None:
    write_playbook(tmp_path / "playbooks", tmp_path / "markers", level=1)
    server = serve_factory(tmp_path / "playbooks").start()
    alerts = [alert("ServiceDown", service=f"s{n}") for n in range(2000)]
    started = time.monotonic()
    assert server.post(notification(alerts)).status == 200
    rows = server.wait_settled(2000, timeout=60)
    took = time.monotonic() - started
    assert len(rows) == 2000 and {row["decision"] for row in rows} == {"suggested"}
    assert took < 20, f"deciding 2000 alerts of one notification took {took:.1f}s"


def test_one_instant_written_differently_is_one_firing(
    tmp_path: Path, serve_factory: ServeFactory
) -> None:
    markers = tmp_path / "markers"
    write_playbook(tmp_path / "playbooks", markers)
    server = serve_factory(tmp_path / "playbooks").start()

    def post(status: str, starts_at: str, service: str) -> list[dict[str, str]]:
        fired = alert("ServiceDown", status=status, starts_at=starts_at, service=service)
        decided = len(server.triggers())
        assert server.post(notification([fired])).status == 200
        return server.wait_settled(decided + 1)

    post("resolved", "2026-12-07T11:00:00+01:00", "web")
    rows = post("firing", "2026-12-07T10:00:00.000Z", "web")  # a late copy: its end came first
    assert rows[0]["decision"] == "resolved", rows[0]["reason"]

    post("firing", "2026-12-07T10:00:00Z", "api")
    for resend in ("2026-12-07T10:00:00.000000000Z", "2026-12-07T05:00:00-05:00"):
        rows = post("firing", resend, "api")
        assert rows[0]["decision"] == "duplicate", rows[0]["reason"]
    rows = post("firing", "2026-12-07T10:00:00.000000001Z", "api")  # a nanosecond later
    assert rows[0]["decision"] not in ("duplicate", "resolved")
    assert [r["status"] for r in server.runs()] == ["recovered"]
    assert {row["starts_at"] for row in rows} == {
        "2026-12-07T10:00:00Z",
        "2026-12-07T10:00:00.000000001Z",
    }
