"""A real `runbook serve` process on loopback, its playbooks, and Alertmanager-shaped
notifications to post to it (the shape of Alertmanager 0.25's webhook body, version 4)."""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import urllib3
from components import free_port
from run_fixtures import engine_command

FIRING_ENDS_AT = "0001-01-01T00:00:00Z"  # what Alertmanager sends for a firing alert

LEVEL3 = """\
apiVersion: runbook/v1
kind: Playbook
metadata:
  name: {name}
  version: 1.0.0
  maturity: {level}
  owner: tests
  triggers:
    - alertname: {alertname}
inputs:
  service: {{type: string, pattern: '^[a-z0-9-]+$'}}
targets: ["svc/{{{{ inputs.service }}}}"]
sli:
  probe:
    command: {{run: "test -f {markers}/fixed-{{{{ inputs.service }}}}; echo $?", timeout: 5s}}
  healthy: {{below: 1}}
  settle: 0s
  samples: 1
  interval: 100ms
steps:
  - id: fix
    timeout: 30s
    shell: {{run: "sleep {sleep}; {action}"}}
    undo: {{shell: {{run: "rm -f {markers}/fixed-{{{{ inputs.service }}}}"}}}}
{extra}"""
FIX = "touch {markers}/fixed-{{{{ inputs.service }}}}"

# A playbook whose input `service` comes from the alert's label and whose secret `token`
# (env LABEL_TOKEN) a test may give that label's value: the run redacts the input.
SECRET_LABEL = """\
apiVersion: runbook/v1
kind: Playbook
metadata:
  name: secret-label
  version: 1.0.0
  maturity: 3
  owner: tests
  triggers:
    - alertname: ServiceDown
inputs:
  service: {type: string, pattern: '^[a-z0-9-]+$'}
secrets:
  token: {env: LABEL_TOKEN}
targets: ["svc/secret-label"]
sli:
  probe:
    command: {run: "test -f MARKERS/fixed; echo $?", timeout: 5s}
  healthy: {below: 1}
  settle: 0s
  samples: 1
  interval: 100ms
steps:
  - id: fix
    timeout: 30s
    shell:
      run: 'test -n "$S" && touch MARKERS/fixed'
      env: {S: "{{ inputs.service }}"}
    irreversible: it only touches a marker
"""


def write_secret_label_playbook(folder: Path, markers: Path) -> Path:
    """The folder `folder` holding the SECRET_LABEL playbook (its marker in `markers`)."""
    folder.mkdir(parents=True, exist_ok=True)
    markers.mkdir(parents=True, exist_ok=True)
    (folder / "secret-label.yaml").write_text(SECRET_LABEL.replace("MARKERS", str(markers)))
    return folder


def write_playbook(
    folder: Path,
    markers: Path,
    *,
    name: str = "fix-service",
    level: int = 3,
    alertname: str = "ServiceDown",
    sleep: float = 0,
    action: str = "",
    extra: str = "",
) -> Path:
    """A playbook answering `alertname` by touching `markers/fixed-<service>` (or by
    `action`, a shell command), with `extra` YAML at its top level."""
    folder.mkdir(parents=True, exist_ok=True)
    markers.mkdir(parents=True, exist_ok=True)
    action = action or FIX.format(markers=markers)
    text = LEVEL3.format(
        name=name,
        level=level,
        alertname=alertname,
        markers=markers,
        sleep=sleep,
        action=action,
        extra=extra,
    )
    path = folder / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def alert(
    alertname: str,
    *,
    status: str = "firing",
    starts_at: str = "2026-12-07T10:00:00.000Z",
    **labels: str,
) -> dict[str, Any]:
    """One alert as Alertmanager sends it; the fingerprint hashes the label set."""
    labels = {"alertname": alertname, **labels}
    fingerprint = hashlib.sha256(json.dumps(labels, sort_keys=True).encode()).hexdigest()[:16]
    return {
        "status": status,
        "labels": labels,
        "annotations": {"summary": f"{alertname} on {labels.get('service', '?')}"},
        "startsAt": starts_at,
        "endsAt": FIRING_ENDS_AT if status == "firing" else "2026-12-07T10:05:00.000Z",
        "generatorURL": "http://prometheus.example/graph?g0.expr=up",
        "fingerprint": fingerprint,
    }


def notification(alerts: Sequence[dict[str, Any]], receiver: str = "runbook") -> dict[str, Any]:
    """A webhook body (version 4) grouping `alerts`."""
    firing = any(a["status"] == "firing" for a in alerts)
    return {
        "receiver": receiver,
        "status": "firing" if firing else "resolved",
        "alerts": list(alerts),
        "groupLabels": {"alertname": alerts[0]["labels"]["alertname"]} if alerts else {},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.example",
        "version": "4",
        "groupKey": '{}:{alertname="' + (alerts[0]["labels"]["alertname"] if alerts else "") + '"}',
        "truncatedAlerts": 0,
    }


@dataclass
class Server:
    """One `runbook serve` process; `start()` again after `kill()` reuses its ledger."""

    playbooks: Path
    home: Path
    log_file: Path
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    ca_file: Path | None = None  # with --tls-cert: the certificate clients trust
    soft_open_files: int | None = None  # start it with this soft RLIMIT_NOFILE
    http: urllib3.PoolManager = field(default_factory=lambda: urllib3.PoolManager(retries=False))

    @property
    def url(self) -> str:
        scheme = "https" if self.ca_file else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def start(self, wait: bool = True) -> Server:
        self.port = self.port or free_port()
        if self.ca_file is not None:
            self.http = urllib3.PoolManager(retries=False, ca_certs=str(self.ca_file))
        command = engine_command(
            "serve", "--playbooks", str(self.playbooks), "--listen", f"127.0.0.1:{self.port}"
        )
        if self.soft_open_files is not None:  # a shell sets the limit, then is the server
            limit = f'ulimit -S -n {self.soft_open_files} && exec "$@"'
            command = ["sh", "-c", limit, "sh", *command]
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(
                [*command, *self.args],
                env={**os.environ, "RUNBOOK_HOME": str(self.home), **self.env},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"runbook serve exited {self.process.returncode}:\n{self.log}")
            try:
                if self.get("/readyz").status == 200:
                    return
            except urllib3.exceptions.HTTPError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"runbook serve not ready within {timeout}s:\n{self.log}")

    def post(
        self,
        body: dict[str, Any] | bytes,
        *,
        token: str | None = None,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> urllib3.BaseHTTPResponse:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        sent = {"Content-Type": content_type, **(headers or {})}
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        return self.http.request("POST", f"{self.url}/hooks/alertmanager", body=data, headers=sent)

    def get(self, path: str) -> urllib3.BaseHTTPResponse:
        return self.http.request("GET", f"{self.url}{path}", timeout=5)

    def kill(self) -> None:
        """kill -9 the server and everything it started."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> int:
        """SIGTERM: the server stops taking alerts and drains; its exit code."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(30)

    @property
    def log(self) -> str:
        return self.log_file.read_text(encoding="utf-8", errors="replace")

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            engine_command(*args),
            env={**os.environ, "RUNBOOK_HOME": str(self.home)},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def triggers(self) -> list[dict[str, Any]]:
        done = self.cli("triggers", "--limit", "100000", "--output", "json")
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)  # type: ignore[no-any-return]

    def runs(self) -> list[dict[str, Any]]:
        done = self.cli("runs", "--limit", "100000", "--output", "json")
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)  # type: ignore[no-any-return]

    def wait_for(self, predicate: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.1)
        raise AssertionError(f"never {what}:\n{self.log}")

    def wait_settled(self, decisions: int, timeout: float = 20.0) -> list[dict[str, Any]]:
        """Until `decisions` decisions are recorded and no run is queued or running."""

        def settled() -> bool:
            rows = self.triggers()
            busy = any(r["state"] == "queued" for r in rows) or any(
                r["status"] == "running" for r in self.runs()
            )
            return len(rows) >= decisions and not busy

        self.wait_for(settled, f"{decisions} decisions settled", timeout)
        return self.triggers()


@pytest.fixture
def serve_factory(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Start `runbook serve` on a folder of playbooks (not yet started: call `.start()`)."""
    servers: list[Server] = []

    def make(playbooks: Path, *args: str, env: dict[str, str] | None = None) -> Server:
        # the first server keeps the test's ledger (RUNBOOK_HOME): the CLI sees its runs
        home = (
            Path(os.environ["RUNBOOK_HOME"]) if not servers else tmp_path / f"home-{len(servers)}"
        )
        server = Server(
            playbooks=playbooks,
            home=home,
            log_file=tmp_path / f"serve-{len(servers)}.log",
            args=list(args),
            env=env or {},
        )
        servers.append(server)
        return server

    yield make
    for server in servers:
        if server.process is not None and server.process.poll() is None:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait(10)


@dataclass
class Received:
    """What a webhook receiver got: each request's headers and JSON body."""

    requests: list[tuple[dict[str, str], Any]] = field(default_factory=list)

    def bodies(self) -> list[Any]:
        return [body for _, body in self.requests]


@pytest.fixture
def webhook_receiver() -> Iterator[tuple[str, Received]]:
    """A plain HTTP receiver on loopback that answers 200 and keeps every POST
    (an escalation's chat or paging webhook); on /redirect it answers 307 to /escalate."""
    received = Received()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"null")
            received.requests.append((dict(self.headers.items()), body))
            if self.path == "/redirect":  # a receiver that moved
                self.send_response(307)
                self.send_header("Location", "/escalate")
            else:
                self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_: Any) -> None:  # quiet
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/escalate", received
    finally:
        server.shutdown()
        server.server_close()
