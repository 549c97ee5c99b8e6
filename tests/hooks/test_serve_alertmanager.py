"""`runbook serve` behind a real Alertmanager 0.25 (and, end to end, a real Prometheus
whose rule fires on a pushed metric): what production wiring delivers, and what runs."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable
from pathlib import Path

from alertmanager_fixtures import StartAlertmanager
from components import free_port
from prom_fixtures import PromStack, start_prometheus, stop
from serve_fixtures import Server, write_playbook

ServeFactory = Callable[..., Server]
TOKEN = "am-token-canary-5f0c"


def _token_file(tmp_path: Path) -> Path:
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")
    path.chmod(0o600)
    return path


def _hook_runs(server: Server) -> list[dict[str, object]]:
    return [run for run in server.runs() if run["mode"] == "hook"]


def test_alerts_from_alertmanager_and_its_ha_peer_run_once_and_resolving_runs_nothing(
    tmp_path: Path, serve_factory: ServeFactory, alertmanager: StartAlertmanager
) -> None:
    markers = tmp_path / "markers"
    write_playbook(tmp_path / "playbooks", markers)
    server = serve_factory(tmp_path / "playbooks", "--token-file", str(_token_file(tmp_path)))
    server.start()
    webhook = f"{server.url}/hooks/alertmanager"
    peers = [alertmanager(webhook, token=TOKEN), alertmanager(webhook, token=TOKEN)]

    since = datetime.datetime.now(datetime.UTC)
    for peer in peers:  # Prometheus sends every alert, with its startsAt, to each HA peer
        peer.fire("ServiceDown", {"service": "api"}, starts_at=since)
    server.wait_for(lambda: len(server.triggers()) >= 2, "both peers delivered")
    rows = server.wait_settled(2)
    assert sorted(row["decision"] for row in rows) == ["duplicate", "run"]
    (run,) = _hook_runs(server)
    assert run["status"] == "recovered"
    assert (markers / "fixed-api").exists()

    (markers / "fixed-api").unlink()  # a resolved alert must not fix anything again
    peers[0].resolve("ServiceDown", {"service": "api"})
    server.wait_for(
        lambda: any(row["decision"] == "resolved" for row in server.triggers()), "resolved"
    )
    assert len(_hook_runs(server)) == 1
    assert not (markers / "fixed-api").exists()
    assert TOKEN not in server.log


def test_alertmanager_without_the_token_is_refused_and_nothing_runs(
    tmp_path: Path, serve_factory: ServeFactory, alertmanager: StartAlertmanager
) -> None:
    write_playbook(tmp_path / "playbooks", tmp_path / "markers")
    server = serve_factory(tmp_path / "playbooks", "--token-file", str(_token_file(tmp_path)))
    server.start()
    manager = alertmanager(f"{server.url}/hooks/alertmanager", token="not-the-token")
    manager.fire("ServiceDown", {"service": "api"})
    server.wait_for(
        lambda: manager.webhook_metric("alertmanager_notifications_failed_total") >= 1,
        "Alertmanager saw its notification refused",
    )
    assert server.triggers() == []
    assert server.runs() == []


RULES = """\
groups:
  - name: e2e
    rules:
      - alert: BacklogHigh
        expr: {metric} > 50
        labels: {{service: queue}}
        annotations: {{summary: the backlog is high}}
"""

PLAYBOOK = """\
apiVersion: runbook/v1
kind: Playbook
metadata:
  name: drain-backlog
  version: 1.0.0
  maturity: 3
  owner: tests
  triggers:
    - alertname: BacklogHigh
inputs:
  service: {{type: string, pattern: '^[a-z]+$'}}
targets: ["queue/{{{{ inputs.service }}}}"]
sli:
  probe: {{prometheus: {{url: '{prometheus}', query: '{metric}'}}}}
  healthy: {{below: 50}}
  settle: 0s
  samples: 2
  interval: 500ms
  timeout: 20s
steps:
  - id: drain
    timeout: 10s
    irreversible: a drained backlog stays drained
    http:
      method: PUT
      url: {pushgateway}/metrics/job/e2e
      body: "{metric} 0\\n"
      expect_status: [200, 202]
"""


def test_a_prometheus_rule_fires_the_playbook_fixes_it_and_the_resolution_starts_nothing(
    tmp_path: Path,
    serve_factory: ServeFactory,
    alertmanager: StartAlertmanager,
    prom_stack: PromStack,
) -> None:
    metric = f"e2e_backlog_{uuid.uuid4().hex[:8]}"
    server = serve_factory(tmp_path / "playbooks", "--token-file", str(_token_file(tmp_path)))
    manager = alertmanager(f"http://127.0.0.1:{_reserve(server)}/hooks/alertmanager", token=TOKEN)
    manager_port = int(manager.url.rsplit(":", 1)[1])
    rules = RULES.format(metric=metric)
    prometheus = start_prometheus(
        tmp_path / "prometheus", prom_stack.pushgateway_port, rules, manager_port
    )
    try:
        folder = tmp_path / "playbooks"
        folder.mkdir()
        (folder / "drain-backlog.yaml").write_text(
            PLAYBOOK.format(
                metric=metric,
                prometheus=f"http://127.0.0.1:{prometheus.port}",
                pushgateway=prom_stack.pushgateway_url,
            )
        )
        server.start()
        prom_stack.push("e2e", metric, 100)

        server.wait_for(
            lambda: any(r["status"] == "recovered" for r in _hook_runs(server)),
            "the alert's run recovered",
            timeout=60,
        )
        server.wait_for(
            lambda: any(row["decision"] == "resolved" for row in server.triggers()),
            "the resolved notification",
            timeout=60,
        )
        (ran,) = [row for row in server.triggers() if row["decision"] == "run"]
        assert ran["inputs"] == {"service": "queue"}
        (run,) = _hook_runs(server)
        assert run["run_id"] == ran["run_id"]
        shown = server.cli("show", str(run["run_id"]))
        assert "recovered" in shown.stdout
    finally:
        stop(prometheus.process)


def _reserve(server: Server) -> int:
    """The port the server will listen on, known before it starts."""
    server.port = free_port()
    return server.port
