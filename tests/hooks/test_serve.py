"""`runbook serve` as Alertmanager meets it: a real server process on loopback, real
playbooks run as real processes, the ledger read back through the CLI."""

from __future__ import annotations

import json
import socket
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from serve_fixtures import Server, alert, notification, write_playbook

ServeFactory = Callable[..., Server]


def _runs_of(server: Server) -> list[dict[str, object]]:
    return [run for run in server.runs() if run["mode"] == "hook"]


def test_a_firing_alert_runs_its_level3_playbook_once_whatever_the_resends(
    tmp_path: Path, serve_factory: ServeFactory
) -> None:
    markers = tmp_path / "markers"
    write_playbook(tmp_path / "playbooks", markers)
    server = serve_factory(tmp_path / "playbooks").start()
    body = notification([alert("ServiceDown", service="api")])
    for _ in range(3):  # group_interval resends, an HA peer's copy
        reply = server.post(body)
        assert reply.status == 200, reply.data
        assert json.loads(reply.data)["alerts"] == 1

    rows = server.wait_settled(3)
    assert sorted(row["decision"] for row in rows) == ["duplicate", "duplicate", "run"]
    (run,) = _runs_of(server)
    assert run["status"] == "recovered"
    assert run["operator"] == "alertmanager receiver runbook"
    assert (markers / "fixed-api").exists()
    ran = next(row for row in rows if row["decision"] == "run")
    assert ran["run_id"] == run["run_id"] and ran["inputs"] == {"service": "api"}
    assert all(row["run_id"] == run["run_id"] for row in rows)
    shown = json.loads(server.cli("show", str(run["run_id"]), "--output", "json").stdout)
    assert shown["run"]["mode"] == "hook"
    assert shown["run"]["trigger"]["trigger_id"] == ran["trigger_id"]
    told = server.cli("show", str(run["run_id"])).stdout
    assert f"alert: ServiceDown (fingerprint {ran['fingerprint']}" in told
    assert f"for alert decision {ran['trigger_id']}" in told


def _unguarded(tmp_path: Path) -> str:
    """A serve config with guards that never hold a run back."""
    config = tmp_path / "serve.yaml"
    config.write_text(
        "guards: {cooldown: 0s, max_runs: {per_target: 1000, per_playbook: 1000},"
        " flap: {runs: 1000, within: 1h}}\nbudget: {runs: 1000, window: 1h}\n"
    )
    return str(config)


def test_each_firing_of_each_alert_gets_its_own_run(
    tmp_path: Path, serve_factory: ServeFactory
) -> None:
    markers = tmp_path / "markers"
    write_playbook(tmp_path / "playbooks", markers)
    server = serve_factory(tmp_path / "playbooks", "--config", _unguarded(tmp_path)).start()
    first = alert("ServiceDown", service="api")
    again = alert("ServiceDown", service="api", starts_at="2026-12-07T11:00:00.000Z")
    other = alert("ServiceDown", service="web")
    assert server.post(notification([first, other])).status == 200
    server.wait_settled(2)
    assert server.post(notification([again])).status == 200
    rows = server.wait_settled(3)
    assert [row["decision"] for row in rows] == ["run", "run", "run"]
    assert len(_runs_of(server)) == 3


def test_a_resolved_notification_starts_nothing(
    tmp_path: Path, serve_factory: ServeFactory
) -> None:
    markers = tmp_path / "markers"
    write_playbook(tmp_path / "playbooks", markers)
    server = serve_factory(tmp_path / "playbooks").start()
    resolved = alert("ServiceDown", status="resolved", service="api")
    assert server.post(notification([resolved])).status == 200
    (row,) = server.wait_settled(1)
    assert row["decision"] == "resolved"
    assert "never starts a run" in row["reason"]
    assert _runs_of(server) == []
    assert not (markers / "fixed-api").exists()


def test_below_level_3_nothing_runs_the_decision_says_what_a_human_should_do(
    tmp_path: Path, serve_factory: ServeFactory
) -> None:
    markers = tmp_path / "markers"
    write_playbook(tmp_path / "playbooks", markers, name="scripted", level=2)
    write_playbook(tmp_path / "playbooks", markers, name="documented", level=1)
    server = serve_factory(tmp_path / "playbooks").start()
    assert server.post(notification([alert("ServiceDown", service="api")])).status == 200
    rows = {row["playbook"]: row for row in server.wait_settled(2)}
    assert rows["scripted"]["decision"] == "proposed"
    assert rows["documented"]["decision"] == "suggested"
    assert "runbook approve" in rows["scripted"]["reason"]
    assert "runbook run" in rows["documented"]["reason"]
    assert server.runs() == []
    assert not (markers / "fixed-api").exists()


def test_an_alert_that_matches_nothing_or_binds_no_valid_input_is_recorded_with_why(
    tmp_path: Path, serve_factory: ServeFactory
) -> None:
    markers = tmp_path / "markers"
    write_playbook(tmp_path / "playbooks", markers)
    server = serve_factory(tmp_path / "playbooks").start()
    unknown = alert("SomethingElse", service="api")
    hostile = alert("ServiceDown", service="api; touch /tmp/pwned")
    assert server.post(notification([unknown])).status == 200
    assert server.post(notification([hostile])).status == 200
    rows = {row["alertname"]: row for row in server.wait_settled(2)}
    assert rows["SomethingElse"]["decision"] == "no_match"
    assert rows["ServiceDown"]["decision"] == "bad_input"
    assert "service" in rows["ServiceDown"]["reason"]
    assert server.runs() == []


def test_abuse_is_refused_before_anything_is_recorded(
    tmp_path: Path, serve_factory: ServeFactory
) -> None:
    markers = tmp_path / "markers"
    write_playbook(tmp_path / "playbooks", markers)
    token_file = tmp_path / "token"
    token_file.write_text("s3cret-canary-token\n")
    token_file.chmod(0o600)
    server = serve_factory(
        tmp_path / "playbooks", "--token-file", str(token_file), "--read-timeout", "1s"
    ).start()
    good = notification([alert("ServiceDown", service="api")])
    assert server.post(good).status == 401
    assert server.post(good, token="wrong").status == 401
    assert server.post(good, headers={"Authorization": "Basic dXNlcjpwYXNz"}).status == 401
    assert server.post(b"x" * (10 * 1024 * 1024), token="s3cret-canary-token").status == 413
    assert server.post(b"{not json", token="s3cret-canary-token").status == 400
    assert server.post(b'{"version": "4"}', token="s3cret-canary-token").status == 400
    wrong_type = server.post(good, token="s3cret-canary-token", content_type="text/plain")
    assert wrong_type.status == 415
    assert _slow_body_status(server, "s3cret-canary-token") == 408
    assert _slow_head_closed(server)

    assert server.triggers() == []
    assert server.runs() == []
    assert "s3cret-canary-token" not in server.log
    assert server.post(good, token="s3cret-canary-token").status == 200
    assert server.wait_settled(1)[0]["decision"] == "run"


def _slow_body_status(server: Server, token: str) -> int:
    """Send the headers and half a body, then nothing: the server gives up on it."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as conn:
        conn.sendall(
            b"POST /hooks/alertmanager HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {token}\r\nContent-Length: 1000\r\n\r\n".encode()
            + b'{"version": '
        )
        answer = conn.recv(200).decode()
    return int(answer.split()[1])


def _slow_head_closed(server: Server) -> bool:
    """Send half a request head, then nothing: the server closes the connection."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as conn:
        conn.sendall(b"POST /hooks/alertmanager HTTP/1.1\r\nHost: x\r\n")
        return conn.recv(200) == b""  # closed, after --read-timeout, without a reply


def test_it_will_not_listen_beyond_loopback_without_credentials(
    tmp_path: Path, serve_factory: ServeFactory
) -> None:
    write_playbook(tmp_path / "playbooks", tmp_path / "markers")
    server = serve_factory(tmp_path / "playbooks")
    done = server.cli("serve", "--playbooks", str(server.playbooks), "--listen", "0.0.0.0:9")
    assert done.returncode == 2
    assert "without authentication" in done.stderr and "--token-file" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_token_file_others_can_read_is_refused(
    tmp_path: Path, serve_factory: ServeFactory
) -> None:
    write_playbook(tmp_path / "playbooks", tmp_path / "markers")
    token_file = tmp_path / "token"
    token_file.write_text("t0ken\n")
    token_file.chmod(0o644)
    server = serve_factory(tmp_path / "playbooks")
    folder = str(server.playbooks)
    done = server.cli("serve", "--playbooks", folder, "--token-file", str(token_file))
    assert done.returncode == 2
    assert "chmod 600" in done.stderr


def test_an_invalid_playbook_stops_the_server_from_starting(
    tmp_path: Path, serve_factory: ServeFactory
) -> None:
    folder = tmp_path / "playbooks"
    write_playbook(folder, tmp_path / "markers")
    (folder / "broken.yaml").write_text(
        "apiVersion: runbook/v1\nkind: Playbook\nmetadata: {name: x}\nsteps: []\n"
    )
    done = serve_factory(folder).cli("serve", "--playbooks", str(folder))
    assert done.returncode == 2
    assert "broken.yaml" in done.stderr and "invalid" in done.stderr


def test_health_readiness_and_metrics(tmp_path: Path, serve_factory: ServeFactory) -> None:
    write_playbook(tmp_path / "playbooks", tmp_path / "markers")
    server = serve_factory(tmp_path / "playbooks").start()
    assert server.get("/healthz").status == 200
    assert json.loads(server.get("/readyz").data)["ready"] is True
    server.post(notification([alert("ServiceDown", service="api")]))
    server.post(b"{", content_type="application/json")
    server.wait_settled(1)
    metrics = server.get("/metrics").data.decode()
    assert 'runbook_webhook_requests_total{code="200"} 1.0' in metrics
    assert 'runbook_webhook_requests_total{code="400"} 1.0' in metrics
    assert 'runbook_trigger_decisions_total{decision="run"} 1.0' in metrics
    assert (
        'runbook_hook_runs_finished_total{outcome="recovered",playbook="fix-service"} 1.0'
        in metrics
    )


def test_kill_9_during_a_storm_loses_nothing_and_runs_nothing_twice(
    tmp_path: Path, serve_factory: ServeFactory
) -> None:
    """Notifications posted while the server is killed: after a restart, and the resends
    Alertmanager makes of what got no 2xx, every alert firing has exactly one run; a run
    the kill cut is left interrupted, never started again."""
    markers = tmp_path / "markers"
    write_playbook(tmp_path / "playbooks", markers, sleep=0.2)
    config = _unguarded(tmp_path)
    server = serve_factory(tmp_path / "playbooks", "--concurrency", "4", "--config", config)
    server.start()
    services = [f"svc-{n}" for n in range(60)]
    bodies = [notification([alert("ServiceDown", service=s)]) for _ in range(3) for s in services]

    answered = threading.Semaphore(0)

    def send(body: dict[str, object]) -> int:
        try:
            status = server.post(body).status
        except Exception:  # the kill cut this one: Alertmanager retries it
            return 0
        answered.release()
        return status

    with ThreadPoolExecutor(4) as pool:
        sent = [pool.submit(send, body) for body in bodies]
        for _ in range(len(bodies) // 4):  # a quarter answered: the storm is under way
            assert answered.acquire(timeout=30)
        server.kill()
        statuses = [future.result() for future in sent]
    assert 0 < statuses.count(200) < len(bodies), "the kill must come mid-storm"

    server.start()
    unanswered = [body for body, status in zip(bodies, statuses, strict=True) if status != 200]
    assert all(server.post(body).status == 200 for body in unanswered)
    rows = server.wait_settled(len(bodies), timeout=60)
    # one decision per alert received, none lost (more if a reply was cut after the commit)
    assert len(rows) >= len(bodies)
    ran = [row["inputs"]["service"] for row in rows if row["decision"] == "run"]
    assert sorted(ran) == sorted(services)  # exactly one run per alert firing
    runs = _runs_of(server)
    assert sorted(run["run_id"] for run in runs) == sorted(
        row["run_id"] for row in rows if row["decision"] == "run"
    )
    assert {run["status"] for run in runs} <= {"recovered", "interrupted"}


CANARY_PLAYBOOK = """\
apiVersion: runbook/v1
kind: Playbook
metadata:
  name: uses-a-secret
  version: 1.0.0
  maturity: 3
  owner: tests
  triggers:
    - alertname: TokenExpired
inputs:
  service: {{type: string, pattern: '^[a-z]+$'}}
secrets:
  token: {{env: SERVE_CANARY_TOKEN}}
targets: ["svc/{{{{ inputs.service }}}}"]
sli:
  probe: {{command: {{run: "test -f {markers}/done; echo $?", timeout: 5s}}}}
  healthy: {{below: 1}}
  settle: 0s
  samples: 1
  interval: 100ms
steps:
  - id: rotate
    timeout: 10s
    irreversible: a rotated token cannot be unrotated
    shell:
      run: 'echo "$TOKEN" {{{{ alert.annotations.summary }}}} | tee {markers}/done'
      env: {{TOKEN: "{{{{ secrets.token }}}}"}}
"""


def test_a_secret_never_leaves_the_run_and_the_alert_reaches_its_templates(
    tmp_path: Path, serve_factory: ServeFactory
) -> None:
    canary = f"canary-{uuid.uuid4().hex}"
    markers = tmp_path / "markers"
    markers.mkdir()
    folder = tmp_path / "playbooks"
    folder.mkdir()
    (folder / "uses-a-secret.yaml").write_text(CANARY_PLAYBOOK.format(markers=markers))
    server = serve_factory(folder, env={"SERVE_CANARY_TOKEN": canary}).start()
    reply = server.post(notification([alert("TokenExpired", service="auth")]))
    assert reply.status == 200
    server.wait_settled(1)
    (run,) = _runs_of(server)
    assert run["status"] == "recovered", server.log
    # the step had the secret and the alert's annotation (as data)
    assert (markers / "done").read_text() == f"{canary} TokenExpired on auth\n"

    shown = server.cli("show", str(run["run_id"]), "--output", "json").stdout
    seen = [
        reply.data.decode(),
        server.log,
        server.get("/metrics").data.decode(),
        json.dumps(server.triggers()),
        shown,
        *(path.read_bytes().decode("latin-1") for path in server.home.rglob("*") if path.is_file()),
    ]
    assert all(canary not in text for text in seen)


def test_notifications_that_arrive_together_share_a_commit_and_each_is_answered_after_it(
    tmp_path: Path, serve_factory: ServeFactory
) -> None:
    write_playbook(tmp_path / "playbooks", tmp_path / "markers", level=1)
    server = serve_factory(tmp_path / "playbooks").start()
    bodies = [notification([alert("ServiceDown", service=f"s{n}")]) for n in range(120)]
    with ThreadPoolExecutor(12) as pool:
        replies = list(pool.map(server.post, bodies))
    assert [reply.status for reply in replies] == [200] * len(bodies)
    accepted = {json.loads(reply.data)["accepted"] for reply in replies}
    assert len(accepted) == len(bodies)
    rows = server.wait_settled(len(bodies))
    assert {row["notification_id"] for row in rows} == accepted  # each reply's commit held
    metrics = server.get("/metrics").data.decode()
    (commits,) = [
        line
        for line in metrics.splitlines()
        if line.startswith("runbook_notification_commit_seconds_count")
    ]
    assert float(commits.split()[1]) < len(bodies)  # fewer transactions than notifications
