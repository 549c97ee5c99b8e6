"""`runbook serve` over its lifetime: HTTPS and basic auth, playbooks edited while it
runs, and SIGTERM (drain, then abort)."""

from __future__ import annotations

import base64
import json
import signal
import socket
import sqlite3
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest
import urllib3
from alertmanager_fixtures import StartAlertmanager
from http_fixtures import _self_signed
from serve_fixtures import Server, alert, notification, write_playbook

from engine.ledger import LEDGER_FILE

ServeFactory = Callable[..., Server]


def _secret(path: Path, text: str) -> str:
    path.write_text(text + "\n")
    path.chmod(0o600)
    return str(path)


def test_https_with_basic_auth_and_alertmanager_trusting_the_certificate(
    tmp_path: Path, serve_factory: ServeFactory, alertmanager: StartAlertmanager
) -> None:
    cert, key = _self_signed(tmp_path)
    write_playbook(tmp_path / "playbooks", tmp_path / "markers")
    users = _secret(tmp_path / "basic", "alertmanager:pa55-w0rd")
    server = serve_factory(
        tmp_path / "playbooks",
        *("--basic-auth-file", users, "--tls-cert", str(cert), "--tls-key", str(key)),
    )
    server.ca_file = cert
    server.start()
    good = "Basic " + base64.b64encode(b"alertmanager:pa55-w0rd").decode()
    bad = "Basic " + base64.b64encode(b"alertmanager:guess").decode()
    body = notification([alert("ServiceDown", service="web")])
    assert server.post(body, headers={"Authorization": bad}).status == 401
    with pytest.raises(urllib3.exceptions.HTTPError):  # plain http to the https port
        urllib3.PoolManager(retries=False).request(
            "POST", server.url.replace("https", "http") + "/hooks/alertmanager", body=b"{}"
        )
    assert server.post(body, headers={"Authorization": good}).status == 200
    server.wait_settled(1)

    manager = alertmanager(
        f"{server.url}/hooks/alertmanager",
        basic_auth=("alertmanager", "pa55-w0rd"),
        ca_file=cert,
    )
    manager.fire("ServiceDown", {"service": "api"})
    server.wait_for(lambda: len(server.triggers()) == 2, "Alertmanager's alert over https")
    assert [r["status"] for r in server.runs()] == ["recovered", "recovered"]


def test_an_edited_playbook_is_used_and_a_broken_one_left_out_without_a_restart(
    tmp_path: Path, serve_factory: ServeFactory
) -> None:
    folder = tmp_path / "playbooks"
    file = write_playbook(folder, tmp_path / "markers", alertname="OldName")
    server = serve_factory(folder).start()
    file.write_text(file.read_text().replace("OldName", "NewName"))
    server.post(notification([alert("NewName", service="api")]))
    (row,) = server.wait_settled(1)
    assert row["decision"] == "run"

    (folder / "broken.yaml").write_text("apiVersion: runbook/v1\\nkind: Playbook\\nsteps: 3\\n")
    server.post(notification([alert("NewName", service="web")]))
    rows = server.wait_settled(2)
    assert rows[0]["decision"] == "run"  # the others still answer
    ready = json.loads(server.get("/readyz").data)  # no credentials asked: the list
    assert ready["invalid_playbooks"] == 1
    assert ready["invalid_files"] == [str(folder / "broken.yaml")]
    assert "runbook_playbooks_invalid 1.0" in server.get("/metrics").data.decode()
    assert "broken.yaml is invalid" in server.log


def test_readiness_names_invalid_files_only_to_callers_with_credentials(
    tmp_path: Path, serve_factory: ServeFactory
) -> None:
    folder = tmp_path / "playbooks"
    write_playbook(folder, tmp_path / "markers")
    token = _secret(tmp_path / "token", "s3cr3t-t0ken")
    server = serve_factory(folder, "--token-file", token).start()
    (folder / "broken.yaml").write_text("apiVersion: runbook/v1\nkind: Playbook\nsteps: 3\n")
    server.post(notification([alert("ServiceDown", service="api")]), token="s3cr3t-t0ken")
    server.wait_settled(1)  # the folder is read again when an alert is decided on

    for anonymous in (None, "Bearer wrong", "Basic Zm9vOmJhcg=="):
        reply = _ready(server, anonymous)
        assert json.loads(reply.data) == {"ready": True, "deciding": True, "invalid_playbooks": 1}
        assert b"broken" not in reply.data and str(tmp_path).encode() not in reply.data
    known = json.loads(_ready(server, "Bearer s3cr3t-t0ken").data)
    assert known["invalid_playbooks"] == 1
    assert known["invalid_files"] == [str(folder / "broken.yaml")]
    assert "broken.yaml is invalid" in server.log


def _ready(server: Server, authorization: str | None) -> urllib3.BaseHTTPResponse:
    headers = {"Authorization": authorization} if authorization else {}
    return server.http.request("GET", f"{server.url}/readyz", headers=headers, timeout=5)


def test_sigterm_lets_a_run_in_flight_finish(tmp_path: Path, serve_factory: ServeFactory) -> None:
    write_playbook(tmp_path / "playbooks", tmp_path / "markers", sleep=1)
    server = serve_factory(tmp_path / "playbooks").start()
    server.post(notification([alert("ServiceDown", service="api")]))
    server.wait_for(lambda: any(r["status"] == "running" for r in server.runs()), "running")
    assert server.stop() == 0  # a clean stop, as a supervisor expects it
    (run,) = server.runs()
    assert run["status"] == "recovered"
    assert "aborting" not in server.log
    assert "stopped by SIGTERM" in server.log


def test_sigint_stops_as_cleanly_with_exit_0(tmp_path: Path, serve_factory: ServeFactory) -> None:
    write_playbook(tmp_path / "playbooks", tmp_path / "markers")
    server = serve_factory(tmp_path / "playbooks").start()
    assert server.process is not None
    server.process.send_signal(signal.SIGINT)
    assert server.process.wait(30) == 0
    assert "stopped by SIGINT" in server.log
    assert "Traceback" not in server.log


def test_sigterm_aborts_a_run_that_outlives_the_drain(
    tmp_path: Path, serve_factory: ServeFactory
) -> None:
    write_playbook(tmp_path / "playbooks", tmp_path / "markers", sleep=30)
    server = serve_factory(tmp_path / "playbooks", "--drain", "500ms").start()
    server.post(notification([alert("ServiceDown", service="api")]))
    server.wait_for(lambda: any(r["status"] == "running" for r in server.runs()), "running")
    assert server.stop() == 0  # its runs were aborted and rolled back: a clean stop
    (run,) = server.runs()
    assert run["status"] == "aborted"
    assert "the server is stopping" in server.log


def test_sigterm_stops_within_one_drain_while_a_request_hangs(
    tmp_path: Path, serve_factory: ServeFactory
) -> None:
    """The drain is one deadline from SIGTERM: a request that holds its connection (a
    body that never comes) uses it up, and the runs in flight are aborted then, not
    given a second drain of their own."""
    write_playbook(tmp_path / "playbooks", tmp_path / "markers", sleep=30)
    server = serve_factory(tmp_path / "playbooks", "--drain", "3s").start()
    server.post(notification([alert("ServiceDown", service="api")]))
    server.wait_for(lambda: any(r["status"] == "running" for r in server.runs()), "running")
    with socket.create_connection(("127.0.0.1", server.port)) as hanging:
        hanging.sendall(
            b"POST /hooks/alertmanager HTTP/1.1\r\nHost: localhost\r\n"
            b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
        )
        time.sleep(0.3)  # the request is in the server's hands
        started = time.monotonic()
        assert server.stop() == 0
        took = time.monotonic() - started
    (run,) = server.runs()
    assert run["status"] == "aborted"
    assert took < 5.0, f"stopped after {took:.1f}s: two drains of 3s, not one"


# A template that takes a quarter of a second to render (its budget is a second): the
# run's preparation, which renders each step's command for the plan, takes about one.
SLOW_TEMPLATE = (
    "{% for i in range(300) %}{% for j in range(1000) %}{% set x = i * j %}{% endfor %}{% endfor %}"
)


def test_sigterm_while_a_claimed_run_is_prepared_starts_nothing_and_it_runs_after_restart(
    tmp_path: Path, serve_factory: ServeFactory
) -> None:
    """A run taken from the queue whose preparation has not ended when SIGTERM comes
    does not start: the drain would not know of it, so it would neither be waited for
    nor aborted. Its trigger is queued again at the next start."""
    file = write_playbook(tmp_path / "playbooks", tmp_path / "markers", sleep=1)
    looks = "".join(
        f"  - id: look-{n}\n    readonly: true\n    timeout: 5s\n"
        f'    shell: {{run: "true{SLOW_TEMPLATE}"}}\n'
        for n in range(4)
    )
    file.write_text(file.read_text().replace("steps:\n", "steps:\n" + looks))
    server = serve_factory(tmp_path / "playbooks", "--drain", "10s").start()
    server.post(notification([alert("ServiceDown", service="api")]))
    deadline = time.monotonic() + 20
    while _trigger_states(server) != ["started"] and time.monotonic() < deadline:
        time.sleep(0.005)
    assert server.stop() == 0  # the run is being prepared (claimed, not recorded)
    assert server.runs() == []
    server.start()
    server.wait_for(lambda: [r["status"] for r in server.runs()] == ["recovered"], "run")
    assert "queued again" in server.log


def test_sigterm_while_a_batch_of_alerts_is_decided_keeps_to_one_drain(
    tmp_path: Path, serve_factory: ServeFactory
) -> None:
    """Deciding stops at the next alert when the server is told to stop (the others
    stay in the inbox for the next start), and what it took counts in the drain: the
    runs in flight are aborted when the drain is over, not a drain after the batch."""
    file = write_playbook(tmp_path / "playbooks", tmp_path / "markers", sleep=30)
    slow_targets = f'targets: ["svc/{{{{ inputs.service }}}}{SLOW_TEMPLATE}"]'
    file.write_text(file.read_text().replace('targets: ["svc/{{ inputs.service }}"]', slow_targets))
    server = serve_factory(tmp_path / "playbooks", "--drain", "2s").start()
    server.post(notification([alert("ServiceDown", service="api")]))
    server.wait_for(lambda: any(r["status"] == "running" for r in server.runs()), "running")
    storm = [alert("ServiceDown", service=f"web-{n}") for n in range(30)]
    server.post(notification(storm))  # about a quarter of a second per alert to decide
    time.sleep(0.5)

    started = time.monotonic()
    assert server.stop() == 0
    took = time.monotonic() - started
    assert took < 4.5, f"stopped after {took:.1f}s: the batch, then a drain of 2s"
    assert [r["status"] for r in server.runs()] == ["aborted"]
    with closing(sqlite3.connect(server.home / LEDGER_FILE)) as conn:
        (pending,) = conn.execute("SELECT count(*) FROM inbox WHERE handled_at IS NULL").fetchone()
    assert 0 < pending < 30  # decided up to the stop; the rest waits for the next start


def _trigger_states(server: Server) -> list[str]:
    with closing(sqlite3.connect(server.home / LEDGER_FILE)) as conn:
        return [row[0] for row in conn.execute("SELECT state FROM triggers")]


def test_a_playbook_changed_after_the_decision_is_not_run_in_its_place(
    tmp_path: Path, serve_factory: ServeFactory
) -> None:
    folder = tmp_path / "playbooks"
    markers = tmp_path / "markers"
    file = write_playbook(folder, markers, sleep=1)
    server = serve_factory(folder, "--concurrency", "1").start()
    server.post(notification([alert("ServiceDown", service="api")]))
    server.wait_for(lambda: any(r["status"] == "running" for r in server.runs()), "running")
    server.post(notification([alert("ServiceDown", service="web")]))  # queued behind it
    server.wait_for(lambda: len(server.triggers()) == 2, "decided")
    file.write_text(file.read_text().replace("owner: tests", "owner: edited"))
    rows = server.wait_settled(2)
    (web,) = [row for row in rows if row["inputs"] == {"service": "web"}]
    assert web["state"] == "not_started"
    assert "changed since it was decided on" in web["reason"]
    assert [r["status"] for r in server.runs()] == ["recovered"]


def test_the_server_raises_its_open_files_limit_for_bursts_of_connections(
    tmp_path: Path, serve_factory: ServeFactory
) -> None:
    write_playbook(tmp_path / "playbooks", tmp_path / "markers")
    server = serve_factory(tmp_path / "playbooks")
    server.soft_open_files = 256  # as a shell or a unit may leave it
    server.start()
    assert server.process is not None
    limits = Path(f"/proc/{server.process.pid}/limits").read_text()
    (line,) = [row for row in limits.splitlines() if row.startswith("Max open files")]
    soft, hard = line.split()[3:5]
    wanted = 65536 if hard == "unlimited" else min(int(hard), 65536)
    assert int(soft) >= wanted
