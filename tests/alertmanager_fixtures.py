"""A real Alertmanager 0.25 on loopback that routes every alert to a webhook the test
names, and fires and resolves alerts through its API v2 as Prometheus would.

- Each instance has its own port, its own --storage.path and config in a temp folder, and
  no cluster (`--cluster.listen-address=`): it flushes at once instead of waiting for
  peers to settle. It is ready in under 0.1 s on an idle machine.
- Timings: `group_wait: 0s` (the first notification of a group leaves as soon as its
  first alert arrives) and `group_interval: 100ms` (what changed in a group, resolved
  alerts included, and a notification that failed with a 4xx, leave at the next flush).
  `group_interval` cannot be zero. `repeat_interval` is 1h: an unchanged group is not
  re-sent unless a test asks for short repeats. A 5xx or a refused connection is retried
  with a backoff starting near 0.5 s, for at most max(group_interval, 10 s).
- Credentials go through files (`credentials_file`, `password_file`), as production
  should, so a token never appears in the config.
- An https webhook is trusted through `ca_file`; like any Go program, Alertmanager also
  trusts SSL_CERT_FILE from its environment (which the https_origin fixture sets).
- `alertmanager` binary missing: the tests using it are skipped, but fail under CI=true
  (`.ci/run` installs prometheus-alertmanager).
"""

from __future__ import annotations

import datetime
import json
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import urllib3
import yaml
from components import free_port, require_binary
from prometheus_client.parser import text_string_to_metric_families

READY_TIMEOUT = 15.0  # seconds; it takes ~70 ms on an idle machine
STOP_TIMEOUT = 10.0
Labels = Mapping[str, str]


@dataclass(frozen=True)
class AlertmanagerConfig:
    """What the test decides about the route to its webhook."""

    webhook_url: str
    token: str | None = None  # sent as `Authorization: Bearer <token>`
    basic_auth: tuple[str, str] | None = None  # (user, password)
    ca_file: Path | None = None  # to trust an https webhook's certificate
    send_resolved: bool = True
    group_by: Sequence[str] = ("alertname",)
    group_wait: str = "0s"
    group_interval: str = "100ms"
    repeat_interval: str = "1h"
    max_alerts: int = 0  # 0: every alert of the group in one notification


def _rfc3339(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


@dataclass
class Alertmanager:
    """A running Alertmanager; `fire` and `resolve` post alerts to its API v2."""

    url: str
    config: AlertmanagerConfig
    state: Path
    process: subprocess.Popen[bytes]
    http: urllib3.PoolManager = field(default_factory=lambda: urllib3.PoolManager(retries=False))
    started_at: dict[frozenset[tuple[str, str]], datetime.datetime] = field(default_factory=dict)

    @property
    def log(self) -> Path:
        return self.state / "alertmanager.log"

    def fire(
        self,
        alertname: str,
        labels: Labels | None = None,
        annotations: Labels | None = None,
        starts_at: datetime.datetime | None = None,
    ) -> dict[str, Any]:
        """Post a firing alert (no endsAt: Alertmanager keeps it firing for its
        resolve_timeout, 5 min); return the alert as posted."""
        alert = self._alert(alertname, labels, annotations)
        moment = starts_at or self.started_at.get(self._identity(alert)) or _now()
        self.started_at[self._identity(alert)] = moment
        alert["startsAt"] = _rfc3339(moment)
        self._post([alert])
        return alert

    def resolve(
        self,
        alertname: str,
        labels: Labels | None = None,
        annotations: Labels | None = None,
        ends_at: datetime.datetime | None = None,
    ) -> dict[str, Any]:
        """Post the same alert (same labels, same startsAt) with endsAt now: it is
        resolved, and sent as such at the group's next flush if send_resolved is on."""
        alert = self._alert(alertname, labels, annotations)
        ends = ends_at or _now()
        starts = self.started_at.pop(self._identity(alert), ends)  # firing again: new startsAt
        alert["startsAt"], alert["endsAt"] = _rfc3339(min(starts, ends)), _rfc3339(ends)
        self._post([alert])
        return alert

    def alerts(self) -> list[dict[str, Any]]:
        """Alertmanager's own view (GET /api/v2/alerts): fingerprint, status, times."""
        response = self.http.request("GET", f"{self.url}/api/v2/alerts", timeout=5)
        assert response.status == 200, response.data
        return json.loads(response.data)  # type: ignore[no-any-return]

    def webhook_metric(self, name: str) -> float:
        """A sample of its own /metrics for the webhook integration, e.g.
        `alertmanager_notification_requests_failed_total` (one per failed attempt)."""
        response = self.http.request("GET", f"{self.url}/metrics", timeout=5)
        for family in text_string_to_metric_families(response.data.decode()):
            for sample in family.samples:
                if sample.name == name and sample.labels.get("integration") == "webhook":
                    return float(sample.value)
        raise AssertionError(f"alertmanager has no {name} for its webhook")

    def stop(self) -> None:
        """SIGTERM, as a service manager would: it snapshots its state and exits."""
        _stop(self.process)

    def kill(self) -> None:
        """SIGKILL: nothing is flushed, in-flight notifications are cut off."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()

    def _alert(
        self, alertname: str, labels: Labels | None, annotations: Labels | None
    ) -> dict[str, Any]:
        return {
            "labels": {**(labels or {}), "alertname": alertname},
            "annotations": dict(annotations or {}),
            "generatorURL": f"{self.url}/test/{alertname}",
        }

    @staticmethod
    def _identity(alert: dict[str, Any]) -> frozenset[tuple[str, str]]:
        return frozenset(alert["labels"].items())

    def _post(self, alerts: list[dict[str, Any]]) -> None:
        response = self.http.request("POST", f"{self.url}/api/v2/alerts", json=alerts, timeout=5)
        assert response.status == 200, f"{response.status} {response.data!r}"


def config_yaml(config: AlertmanagerConfig, state: Path) -> str:
    """The configuration file: one route, one webhook receiver; secrets in files."""
    http_config: dict[str, Any] = {}
    if config.token is not None:
        token_file = _secret_file(state / "webhook-token", config.token)
        http_config["authorization"] = {"type": "Bearer", "credentials_file": str(token_file)}
    if config.basic_auth is not None:
        user, password = config.basic_auth
        password_file = _secret_file(state / "webhook-password", password)
        http_config["basic_auth"] = {"username": user, "password_file": str(password_file)}
    if config.ca_file is not None:
        http_config["tls_config"] = {"ca_file": str(config.ca_file)}
    webhook: dict[str, Any] = {
        "url": config.webhook_url,
        "send_resolved": config.send_resolved,
        "max_alerts": config.max_alerts,
    }
    if http_config:
        webhook["http_config"] = http_config
    document = {
        "route": {
            "receiver": "webhook",
            "group_by": list(config.group_by),
            "group_wait": config.group_wait,
            "group_interval": config.group_interval,
            "repeat_interval": config.repeat_interval,
        },
        "receivers": [{"name": "webhook", "webhook_configs": [webhook]}],
    }
    return yaml.safe_dump(document, sort_keys=False)


def _secret_file(path: Path, value: str) -> Path:
    path.write_text(value)
    path.chmod(0o600)
    return path


def start_alertmanager(binary: str, state: Path, config: AlertmanagerConfig) -> Alertmanager:
    state.mkdir(parents=True)
    (state / "alertmanager.yml").write_text(config_yaml(config, state))
    url = f"http://127.0.0.1:{free_port()}"
    argv = [
        binary,
        f"--config.file={state / 'alertmanager.yml'}",
        f"--storage.path={state / 'data'}",
        f"--web.listen-address={url.removeprefix('http://')}",
        f"--web.external-url={url}/",
        "--cluster.listen-address=",
    ]
    with open(state / "alertmanager.log", "wb") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    manager = Alertmanager(url, config, state, process)
    try:
        _wait_ready(manager)
    except BaseException:
        manager.kill()
        raise
    return manager


def _wait_ready(manager: Alertmanager) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if manager.process.poll() is not None:
            raise AssertionError(f"alertmanager exited: {manager.log.read_text()[-2000:]}")
        try:
            response = manager.http.request("GET", f"{manager.url}/-/ready", timeout=1)
            if response.status == 200:
                return
        except urllib3.exceptions.HTTPError:
            pass
        time.sleep(0.02)
    raise AssertionError(
        f"alertmanager not ready in {READY_TIMEOUT} s: {manager.log.read_text()[-2000:]}"
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


StartAlertmanager = Callable[..., Alertmanager]


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[StartAlertmanager]:
    """Start a real Alertmanager routing to `webhook_url`:
    `alertmanager(webhook_url, token=..., send_resolved=..., group_interval=...)` takes
    the fields of AlertmanagerConfig. Each one started is stopped when the test ends."""
    binary = require_binary("prometheus-alertmanager", "prometheus-alertmanager")
    started: list[Alertmanager] = []

    def start(webhook_url: str, **options: Any) -> Alertmanager:
        config = AlertmanagerConfig(webhook_url, **options)
        manager = start_alertmanager(binary, tmp_path / f"alertmanager-{len(started)}", config)
        started.append(manager)
        return manager

    yield start
    for manager in started:
        manager.stop()
        manager.http.clear()
