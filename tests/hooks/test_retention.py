"""`runbook serve` empties the bodies of settled notifications after
`retention.payloads`, at start and hourly; the decisions and their reasons stay."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

from serve_fixtures import Server, alert, notification, write_playbook

from engine.hooks.retention import PayloadRetention
from engine.ledger import LEDGER_FILE, Ledger
from engine.ledger.inbox import InboxAlert, Received

ServeFactory = Callable[..., Server]


def _bodies(server: Server) -> dict[str, str]:
    """Each notification's stored body, by the alertname of its first alert."""
    with closing(sqlite3.connect(server.home / LEDGER_FILE)) as conn:
        rows = conn.execute(
            "SELECT i.alertname, n.payload FROM notifications AS n JOIN inbox AS i"
            " USING (notification_id) WHERE i.position = 0"
        ).fetchall()
    return dict(rows)


def test_settled_notifications_lose_their_bodies_after_the_retention_and_keep_their_reasons(
    tmp_path: Path, serve_factory: ServeFactory
) -> None:
    folder, markers = tmp_path / "playbooks", tmp_path / "markers"
    write_playbook(folder, markers)
    write_playbook(folder, markers, name="proposed", level=2, alertname="DiskFull")
    server = serve_factory(folder).start()
    for alertname in ("ServiceDown", "NothingAnswers", "DiskFull"):
        server.post(notification([alert(alertname, service="api")]))
    server.wait_settled(3)
    assert server.stop() == 0
    assert all(_bodies(server).values())  # 30 days by default: all kept

    time.sleep(1.2)
    config = tmp_path / "serve.yaml"
    config.write_text("retention: {payloads: 1s}\n")
    server.args += ["--config", str(config)]
    server.start()
    server.wait_for(lambda: "pruned the bodies of 2" in server.log, "pruned at start")
    bodies = _bodies(server)
    assert bodies["ServiceDown"] == bodies["NothingAnswers"] == ""
    assert '"DiskFull"' in bodies["DiskFull"]  # its proposal may still be approved
    decisions = {row["alertname"]: row for row in server.triggers()}
    assert decisions["NothingAnswers"]["decision"] == "no_match"
    assert decisions["NothingAnswers"]["reason"]
    assert decisions["ServiceDown"]["state"] == "started"
    run_id = decisions["ServiceDown"]["run_id"]
    assert server.cli("show", run_id).returncode == 0
    assert "DiskFull" in server.cli("proposals").stdout


def test_a_retention_that_is_not_a_duration_is_refused(
    tmp_path: Path, serve_factory: ServeFactory
) -> None:
    write_playbook(tmp_path / "playbooks", tmp_path / "markers")
    config = tmp_path / "serve.yaml"
    config.write_text("retention: {payloads: a month}\n")
    server = serve_factory(tmp_path / "playbooks")
    done = server.cli("serve", "--playbooks", str(server.playbooks), "--config", str(config))
    assert done.returncode == 2
    assert "retention.payloads" in done.stderr and "Traceback" not in done.stderr


def test_a_long_pruning_pass_ends_at_its_next_batch_when_the_server_stops(
    tmp_path: Path,
) -> None:
    # a first pass over a large ledger (or one after retention.payloads was lowered)
    # takes minutes: the server's drain must not wait for it
    ledger = Ledger.open(tmp_path / LEDGER_FILE)
    ledger.accept_notifications([_settled_later(number) for number in range(60_000)])
    with closing(sqlite3.connect(ledger.path)) as conn, conn:
        conn.execute("UPDATE inbox SET handled_at = 0")  # decided: nothing to act on
    retention = PayloadRetention(ledger, keep_seconds=0.0)
    retention.start()
    deadline = time.monotonic() + 30
    while _pruned_count(ledger) == 0 and time.monotonic() < deadline:
        time.sleep(0.005)

    began = time.monotonic()
    retention.stop()
    assert time.monotonic() - began < 0.5
    assert 0 < _pruned_count(ledger) < 60_000


def _settled_later(number: int) -> Received:
    facts = InboxAlert(f"{number:016x}", "2026-12-07T10:00:00Z", "firing", "ServiceDown")
    return Received("alertmanager", "runbook", "{}:{}", "firing", b"{}", [facts])


def _pruned_count(ledger: Ledger) -> int:
    with closing(sqlite3.connect(ledger.path)) as conn:
        return int(
            conn.execute("SELECT count(*) FROM notifications WHERE payload = ''").fetchone()[0]
        )
