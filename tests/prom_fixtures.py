"""A real Prometheus scraping a real Pushgateway on loopback, started once per session
(Prometheus takes ~5 s to its first scrape, so it is shared by all tests)."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from components import free_port, require_binary

SCRAPE_CONFIG = """\
global:
  scrape_interval: 500ms
  scrape_timeout: 400ms
scrape_configs:
  - job_name: pushgateway
    honor_labels: true
    static_configs:
      - targets: ['127.0.0.1:{pgw_port}']
"""


@dataclass
class PromStack:
    prometheus_url: str
    pushgateway_url: str
    processes: dict[str, subprocess.Popen[bytes]]
    pushgateway_port: int = 0

    def push(self, job: str, metric: str, value: float | str) -> None:
        body = f"{metric} {value}\n".encode()  # the Pushgateway needs the final newline
        request = urllib.request.Request(
            f"{self.pushgateway_url}/metrics/job/{job}", data=body, method="PUT"
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status in (200, 202)

    def query(self, expr: str) -> dict[str, object]:
        url = f"{self.prometheus_url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        with urllib.request.urlopen(url, timeout=5) as response:
            return json.loads(response.read())  # type: ignore[no-any-return]

    def wait_for(self, expr: str, value: float, timeout: float = 15.0) -> None:
        """Until Prometheus has scraped `value` for `expr`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = self.query(expr)["data"]["result"]  # type: ignore[index]
            if result and float(result[0]["value"][1]) == value:
                return
            time.sleep(0.2)
        raise AssertionError(f"Prometheus never saw {expr} == {value}")


def _wait_ready(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{url} never became ready")


@pytest.fixture(scope="session")
def prom_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PromStack]:
    prometheus = require_binary("prometheus", "prometheus")
    pushgateway = require_binary("prometheus-pushgateway", "prometheus-pushgateway")
    state = tmp_path_factory.mktemp("prom")
    prom_port, pgw_port = free_port(), free_port()
    (state / "prometheus.yml").write_text(SCRAPE_CONFIG.format(pgw_port=pgw_port))
    processes = {
        "pushgateway": _start(
            [pushgateway, f"--web.listen-address=127.0.0.1:{pgw_port}", "--persistence.file="],
            state / "pgw.log",
        ),
        "prometheus": _start(
            [
                prometheus,
                f"--config.file={state / 'prometheus.yml'}",
                f"--storage.tsdb.path={state / 'data'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
            ],
            state / "prom.log",
        ),
    }
    stack = PromStack(
        f"http://127.0.0.1:{prom_port}", f"http://127.0.0.1:{pgw_port}", processes, pgw_port
    )
    try:
        _wait_ready(f"{stack.pushgateway_url}/-/ready")
        _wait_ready(f"{stack.prometheus_url}/-/ready")
        yield stack
    finally:
        for process in processes.values():
            stop(process)


def _start(argv: list[str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class OwnPrometheus:
    """A Prometheus of one test's own, which that test may stop."""

    port: int
    process: subprocess.Popen[bytes]

    def wait_for(self, expr: str, value: float, timeout: float = 20.0) -> None:
        url = f"http://127.0.0.1:{self.port}"
        PromStack(url, "", {}).wait_for(expr, value, timeout)


ALERTING_CONFIG = """\
  evaluation_interval: 500ms
rule_files: [rules.yml]
alerting:
  alertmanagers:
    - static_configs:
        - targets: ['127.0.0.1:{alertmanager_port}']
"""


def start_prometheus(
    state: Path, pgw_port: int, rules: str = "", alertmanager_port: int = 0
) -> OwnPrometheus:
    """A Prometheus scraping the Pushgateway; with `rules` (a rules file's YAML), it
    evaluates them every 500 ms and sends its alerts to the Alertmanager on
    `alertmanager_port`."""
    prometheus = require_binary("prometheus", "prometheus")
    state.mkdir(parents=True)
    port = free_port()
    config = SCRAPE_CONFIG.format(pgw_port=pgw_port)
    if rules:
        (state / "rules.yml").write_text(rules)
        scrape, jobs = config.split("scrape_configs:\n")
        alerting = ALERTING_CONFIG.format(alertmanager_port=alertmanager_port)
        first, rest = alerting.split("rule_files:")
        config = f"{scrape}{first}rule_files:{rest}scrape_configs:\n{jobs}"
    (state / "prometheus.yml").write_text(config)
    process = _start(
        [
            prometheus,
            f"--config.file={state / 'prometheus.yml'}",
            f"--storage.tsdb.path={state / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        state / "prom.log",
    )
    _wait_ready(f"http://127.0.0.1:{port}/-/ready")
    return OwnPrometheus(port, process)
