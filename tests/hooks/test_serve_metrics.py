"""What `runbook serve` shows on /metrics: runs by playbook and outcome, steps by status
and time, retries, triggers that started nothing by reason, the inbox's true depth,
and the time from an alert to its run's first step."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

from serve_fixtures import Server, alert, notification, write_playbook

from engine.hooks.catalog import Catalog
from engine.hooks.dispatcher import Dispatcher
from engine.hooks.metrics import ServeMetrics
from engine.ledger import Ledger
from engine.ledger.inbox import InboxAlert, Received

ServeFactory = Callable[..., Server]

FLAKY = "test -f {markers}/tried || {{ touch {markers}/tried; exit 1; }}; touch {markers}/fixed-api"


def test_runs_steps_retries_and_suppressed_triggers_by_playbook_and_reason(
    tmp_path: Path, serve_factory: ServeFactory
) -> None:
    markers = tmp_path / "markers"
    file = write_playbook(tmp_path / "playbooks", markers, action=FLAKY.format(markers=markers))
    text = file.read_text().replace("timeout: 30s", "timeout: 30s\n    retry: {attempts: 2}")
    file.write_text(text)
    server = serve_factory(tmp_path / "playbooks").start()
    firing = alert("ServiceDown", service="api")
    server.post(notification([firing]))
    server.post(notification([firing]))  # a resend
    server.post(notification([alert("NothingAnswers", service="api")]))
    server.wait_settled(3)
    metrics = server.get("/metrics").data.decode()
    expected = [
        'runbook_hook_runs_finished_total{outcome="recovered",playbook="fix-service"} 1.0',
        'runbook_hook_steps_total{playbook="fix-service",status="succeeded"} 1.0',
        'runbook_hook_step_seconds_count{playbook="fix-service"} 1.0',
        'runbook_hook_step_retries_total{playbook="fix-service"} 1.0',
        'runbook_triggers_suppressed_total{reason="duplicate"} 1.0',
        'runbook_triggers_suppressed_total{reason="no_match"} 1.0',
        "runbook_alert_to_first_step_seconds_count 1.0",
        "runbook_inbox_pending 0.0",
    ]
    for line in expected:
        assert line in metrics, line
    assert "NothingAnswers" not in metrics and "api" not in metrics.replace("fix-service", "")


def test_inbox_depth_counts_every_undecided_alert_not_one_batch(tmp_path: Path) -> None:
    folder = tmp_path / "playbooks"
    write_playbook(folder, tmp_path / "markers", level=1)
    alerts = [alert("ServiceDown", service=f"s{n}") for n in range(250)]
    body = json.dumps(notification(alerts)).encode()
    facts = [InboxAlert(a["fingerprint"], a["startsAt"], "firing", "ServiceDown") for a in alerts]
    received = Received("alertmanager", "runbook", "{}", "firing", body, facts)
    with Ledger.open(tmp_path / "ledger.db") as ledger:
        ledger.accept_notifications([received])
        metrics = ServeMetrics()
        catalog = Catalog(str(folder))
        catalog.load()
        dispatcher = Dispatcher(ledger, catalog, metrics, home=tmp_path)
        depth = metrics.registry.get_sample_value
        # another writer holds the ledger: the first batch's decisions wait for it
        with closing(sqlite3.connect(tmp_path / "ledger.db", isolation_level=None)) as other:
            other.execute("BEGIN IMMEDIATE")
            deciding = threading.Thread(target=dispatcher.decide_pending)
            deciding.start()
            deadline = time.monotonic() + 5
            while not depth("runbook_inbox_pending") and time.monotonic() < deadline:
                time.sleep(0.01)
            assert depth("runbook_inbox_pending") == 250
            other.execute("ROLLBACK")
        deciding.join(20)
        assert depth("runbook_inbox_pending") == 0
        assert ledger.pending_count() == 0
        dispatcher.pool.shutdown()
