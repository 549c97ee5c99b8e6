"""The guards of `runbook serve` (busy, cooldown, budgets, flap breaker) and its
escalations (webhook, command), against a real server and real runs."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from serve_fixtures import Received, Server, alert, notification, write_playbook

ServeFactory = Callable[..., Server]
Receiver = tuple[str, Received]


def _config(tmp_path: Path, text: str) -> str:
    path = tmp_path / "serve.yaml"
    path.write_text(text)
    return str(path)


def _firing(service: str, hour: int, **labels: str) -> dict[str, Any]:
    """The alert ServiceDown on `service`, firing since `hour`:00."""
    return alert(
        "ServiceDown", starts_at=f"2026-12-07T{hour:02d}:00:00.000Z", service=service, **labels
    )


def _escalations(server: Server) -> list[dict[str, Any]]:
    done = server.cli("escalations", "--output", "json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def _decisions(server: Server) -> list[str]:
    return [row["decision"] for row in reversed(server.triggers())]


def test_a_target_busy_or_cooling_down_gets_no_second_run(
    tmp_path: Path, serve_factory: ServeFactory
) -> None:
    markers = tmp_path / "markers"
    write_playbook(tmp_path / "playbooks", markers, sleep=1)
    server = serve_factory(
        tmp_path / "playbooks", "--config", _config(tmp_path, "guards: {cooldown: 1h}\n")
    )
    server.start()
    # two alerts (two fingerprints) about one service: one target
    assert server.post(notification([_firing("api", 1), _firing("api", 1, pod="b")])).status == 200
    rows = server.wait_settled(2)
    assert _decisions(server) == ["run", "busy"]
    assert "is not over yet" in rows[0]["reason"]
    assert server.post(notification([_firing("api", 2)])).status == 200
    rows = server.wait_settled(3)
    assert rows[0]["decision"] == "cooldown"
    assert (
        "cooldown 1h" in rows[0]["reason"].replace("60m00s", "1h")
        or "cooldown" in rows[0]["reason"]
    )
    assert len([r for r in server.runs() if r["mode"] == "hook"]) == 1


def test_an_exhausted_budget_holds_the_run_back_and_escalates_to_the_webhook(
    tmp_path: Path, serve_factory: ServeFactory, webhook_receiver: Receiver
) -> None:
    url, received = webhook_receiver
    token = tmp_path / "chat.token"
    token.write_text("chat-token-1\n")
    token.chmod(0o600)
    extra = (
        "guards: {cooldown: 0s, max_runs: {per_target: 1, window: 1h}}\n"
        f"escalation: {{webhook: {{url: '{url}', token_file: {token}}}}}\n"
    )
    write_playbook(tmp_path / "playbooks", tmp_path / "markers", extra=extra)
    server = serve_factory(tmp_path / "playbooks").start()
    server.post(notification([_firing("api", 1)]))
    server.wait_settled(1)
    server.post(notification([_firing("api", 2)]))
    rows = server.wait_settled(2)
    assert rows[0]["decision"] == "budget_exhausted"
    assert "1 run(s) on svc/api" in rows[0]["reason"]

    server.wait_for(lambda: len(received.requests) == 1, "the escalation arrived")
    headers, body = received.requests[0]
    assert headers["Authorization"] == "Bearer chat-token-1"
    assert body["reason"] == "budget_exhausted"
    assert body["playbook"] == "fix-service" and body["targets"] == ["svc/api"]
    assert body["alert"]["labels"]["service"] == "api"
    assert body["trigger_id"] == rows[0]["trigger_id"]
    assert "chat-token-1" not in server.log


def test_a_flapping_alert_is_escalated_to_a_command_instead_of_run_again(
    tmp_path: Path, serve_factory: ServeFactory
) -> None:
    got = tmp_path / "escalated.json"
    config = _config(
        tmp_path,
        "guards: {cooldown: 0s, flap: {runs: 2, within: 1h}}\n"
        f"escalation: {{command: [sh, -c, 'cat > {got}']}}\n",
    )
    write_playbook(tmp_path / "playbooks", tmp_path / "markers")
    server = serve_factory(tmp_path / "playbooks", "--config", config).start()
    for count, hour in enumerate((1, 2, 3, 3), 1):  # fires, resolves, fires again; a resend
        server.post(notification([_firing("api", hour)]))
        server.wait_settled(count)
    assert _decisions(server) == ["run", "run", "flapping", "flapping"]
    server.wait_for(got.exists, "the escalation command ran")
    server.wait_for(lambda: _escalations(server)[0]["status"] == "sent", "recorded as sent")
    body = json.loads(got.read_text())
    assert body["reason"] == "flapping"
    recorded = {row["reason"]: row for row in _escalations(server)}
    assert sorted(recorded) == ["flapping", "refused"]  # one page for the flapping alert,
    # none for its resend; the second run found the SLI healthy: recorded, not sent
    assert recorded["refused"]["status"] == "not_needed"
    assert "2 run(s) within 60m00s" in body["summary"]


def test_a_run_that_fails_is_escalated_with_its_last_step_and_error(
    tmp_path: Path, serve_factory: ServeFactory, webhook_receiver: Receiver
) -> None:
    url, received = webhook_receiver
    config = _config(tmp_path, f"escalation: {{webhook: {{url: '{url}'}}}}\n")
    write_playbook(
        tmp_path / "playbooks", tmp_path / "markers", action="echo disk full >&2; exit 3"
    )
    server = serve_factory(tmp_path / "playbooks", "--config", config).start()
    server.post(notification([_firing("api", 1)]))
    server.wait_settled(1)
    server.wait_for(lambda: len(received.requests) == 1, "the escalation arrived")
    body = received.bodies()[0]
    (run,) = [r for r in server.runs() if r["mode"] == "hook"]
    assert body["reason"] == run["status"] == "failed"
    assert body["run_id"] == run["run_id"] and body["next"] == f"runbook show {run['run_id']}"
    assert body["last_step"] == "fix"
    assert "exit code 3" in body["last_error"]
    assert body["spent"]["steps_run"] == 1
    server.wait_for(lambda: _escalations(server)[0]["status"] == "sent", "recorded as sent")
    (recorded,) = _escalations(server)
    assert recorded["reason"] == "failed" and recorded["run_id"] == run["run_id"]
    assert recorded["destination"] == {"webhook": {"url": url, "token_file": None}}


def test_a_run_cut_by_a_crash_is_escalated_once_after_the_restart_and_not_run_again(
    tmp_path: Path, serve_factory: ServeFactory, webhook_receiver: Receiver
) -> None:
    url, received = webhook_receiver
    config = _config(tmp_path, f"escalation: {{webhook: {{url: '{url}'}}}}\n")
    write_playbook(tmp_path / "playbooks", tmp_path / "markers", sleep=30)
    server = serve_factory(tmp_path / "playbooks", "--config", config).start()
    server.post(notification([_firing("api", 1)]))
    server.wait_for(lambda: any(r["status"] == "running" for r in server.runs()), "the run started")
    server.kill()
    server.start()
    server.wait_for(lambda: len(received.requests) == 1, "the escalation arrived")
    body = received.bodies()[0]
    assert body["reason"] == "interrupted"
    assert "runbook rollback" in body["next"]
    (run,) = server.runs()
    assert run["status"] == "interrupted"
    server.post(notification([_firing("api", 2)]))  # its target waits for a human
    rows = server.wait_settled(2)
    assert rows[0]["decision"] == "busy" and "was interrupted" in rows[0]["reason"]
    server.stop()
    server.start()  # a second restart escalates nothing more
    assert server.get("/readyz").status == 200
    assert len(received.requests) == 1


def test_a_wrong_config_is_refused_at_its_line(tmp_path: Path, serve_factory: ServeFactory) -> None:
    write_playbook(tmp_path / "playbooks", tmp_path / "markers")
    config = _config(tmp_path, "guards:\n  cooldown: 5m\n  max_runs: {per_target: many}\n")
    done = serve_factory(tmp_path / "playbooks").cli(
        "serve", "--playbooks", str(tmp_path / "playbooks"), "--config", config
    )
    assert done.returncode == 2
    assert f"{config}:3:" in done.stderr and "per_target" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_run_that_cannot_start_is_escalated(
    tmp_path: Path, serve_factory: ServeFactory, webhook_receiver: Receiver
) -> None:
    url, received = webhook_receiver
    config = _config(tmp_path, f"escalation: {{webhook: {{url: '{url}'}}}}\n")
    extra = "secrets:\n  token: {env: SERVE_TEST_UNSET_SECRET}\n"
    write_playbook(tmp_path / "playbooks", tmp_path / "markers", extra=extra)
    server = serve_factory(tmp_path / "playbooks", "--config", config).start()
    server.post(notification([_firing("api", 1)]))
    (row,) = server.wait_settled(1)
    assert row["state"] == "not_started" and "SERVE_TEST_UNSET_SECRET" in row["reason"]
    server.wait_for(lambda: len(received.requests) == 1, "the escalation arrived")
    body = received.bodies()[0]
    assert body["reason"] == "not_started" and body["trigger_id"] == row["trigger_id"]


def test_an_escalation_webhook_that_redirects_is_not_counted_as_delivered(
    tmp_path: Path, serve_factory: ServeFactory, webhook_receiver: Receiver
) -> None:
    url, received = webhook_receiver
    moved = url.replace("/escalate", "/redirect")
    config = _config(tmp_path, f"escalation: {{webhook: {{url: '{moved}'}}}}\n")
    write_playbook(tmp_path / "playbooks", tmp_path / "markers", action="exit 3")
    server = serve_factory(tmp_path / "playbooks", "--config", config).start()
    server.post(notification([_firing("api", 1)]))
    server.wait_settled(1)
    server.wait_for(lambda: _escalations(server)[0]["status"] != "pending", "tried")
    (recorded,) = _escalations(server)
    assert recorded["status"] == "failed" and "HTTP 307" in recorded["detail"]
    assert len(received.requests) == 1  # the redirect answer only: nothing followed it


def test_a_run_queued_before_a_stop_is_stale_after_a_long_outage_and_escalated(
    tmp_path: Path, serve_factory: ServeFactory, webhook_receiver: Receiver
) -> None:
    url, received = webhook_receiver
    config = _config(
        tmp_path, f"queue: {{max_age: 3s}}\nescalation: {{webhook: {{url: '{url}'}}}}\n"
    )
    write_playbook(tmp_path / "playbooks", tmp_path / "markers", sleep=1)
    server = serve_factory(tmp_path / "playbooks", "--config", config, "--concurrency", "1")
    server.start()
    server.post(notification([_firing("api", 1)]))
    server.wait_for(lambda: any(r["status"] == "running" for r in server.runs()), "the run started")
    server.post(notification([_firing("web", 1)]))  # queued behind it
    server.wait_for(lambda: len(server.triggers()) == 2, "decided")
    server.stop()  # the run in flight finishes; the queued one stays queued
    (web,) = [row for row in server.triggers() if row["inputs"] == {"service": "web"}]
    assert web["state"] == "queued"
    time.sleep(max(0.0, web["decided_at"] + 3.5 - time.time()))  # the outage
    server.start()
    server.wait_for(lambda: len(received.requests) == 1, "the escalation arrived")
    (web,) = [row for row in server.triggers() if row["inputs"] == {"service": "web"}]
    assert web["state"] == "not_started"
    assert web["reason"].startswith("stale: queued ") and "over the 3s limit" in web["reason"]
    assert received.bodies()[0]["reason"] == "not_started"
    assert "stale: queued" in received.bodies()[0]["summary"]
    assert [r["status"] for r in server.runs()] == ["recovered"]  # web never ran
    listed = server.cli("triggers")
    assert "stale: queued" in listed.stdout
    metrics = server.get("/metrics").data.decode()
    assert 'runbook_triggers_suppressed_total{reason="stale"} 1.0' in metrics
