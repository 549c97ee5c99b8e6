"""The `http` step against a stand-in service on loopback (a real HTTP server written
here: what is tested is our client, its undo, deadline and redaction)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sli_helpers import run_cli, run_id_of

from engine.steps.http import parse

CANARY = "tok-3c1e-canary-77f0"


class FlagService(BaseHTTPRequestHandler):
    """PUT /flag {"provider": X} sets the provider; GET /flag reads it; /hang never answers."""

    state: dict[str, Any]

    def do_GET(self) -> None:
        if self.path == "/hang":
            time.sleep(5)
            return  # the client gave up long ago
        self._reply(200, {"provider": self.state["provider"]})

    def do_PUT(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        body = json.loads(self.rfile.read(length))
        self.state["auth"].append(self.headers.get("Authorization", ""))
        if body.get("provider") == "broken":
            self._reply(503, {"error": "unavailable"})
            return
        self.state["provider"] = body["provider"]
        self.state["history"].append(body["provider"])
        self._reply(200, {"provider": body["provider"], "ok": True})

    def _reply(self, code: int, document: dict[str, Any]) -> None:
        data = json.dumps(document).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def service() -> Iterator[tuple[str, dict[str, Any]]]:
    state: dict[str, Any] = {"provider": "primary", "history": [], "auth": []}
    handler = type("Handler", (FlagService,), {"state": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", state
    server.shutdown()
    server.server_close()


def _playbook(tmp_path: Path, url: str, second: str, extra: str = "") -> Path:
    text = f"""\
apiVersion: runbook/v1
kind: Playbook
metadata: {{name: http-test, version: 1.0.0, maturity: 2, owner: tests}}
secrets:
  token: {{env: FLAG_TOKEN}}
steps:
  - id: read
    http: {{url: "{url}/flag", capture: before}}
  - id: switch
    http:
      url: "{url}/flag"
      method: PUT
      headers: {{Authorization: "Bearer {{{{ secrets.token }}}}"}}
      json: {{provider: fallback}}
      capture: switched
    undo:
      http:
        url: "{url}/flag"
        method: PUT
        json: {{provider: "{{{{ captures.before.provider }}}}"}}
    timeout: 5s
  - id: second
    http: {{url: "{url}/flag", method: PUT, json: {{provider: {second}}}}}
    irreversible: test step
    timeout: 5s
{extra}"""
    path = tmp_path / "http.yaml"
    path.write_text(text)
    return path


def test_http_steps_run_capture_and_undo_on_failure(
    tmp_path: Path, service: tuple[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, state = service
    monkeypatch.setenv("FLAG_TOKEN", CANARY)
    done = run_cli("run", str(_playbook(tmp_path, url, "broken")))
    assert done.returncode == 1, done.stdout + done.stderr
    assert state["history"] == ["fallback", "primary"]  # switched, then undone from the capture
    assert f"Bearer {CANARY}" in state["auth"]  # the secret reached the service
    assert CANARY not in done.stdout + done.stderr
    shown = run_cli("show", run_id_of(done.stdout), "--output", "json")
    assert CANARY not in shown.stdout
    assert "HTTP 503, expected" in shown.stdout


def test_http_step_success_and_dry_run_sends_nothing(
    tmp_path: Path, service: tuple[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, state = service
    monkeypatch.setenv("FLAG_TOKEN", CANARY)
    path = _playbook(tmp_path, url, "secondary")
    planned = run_cli("plan", str(path))
    assert planned.returncode == 0, planned.stderr
    assert f"PUT {url}/flag" in planned.stdout
    assert state["history"] == []
    done = run_cli("run", str(path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert state["history"] == ["fallback", "secondary"]


def test_http_step_that_hangs_times_out(
    tmp_path: Path, service: tuple[str, dict[str, Any]]
) -> None:
    url, _ = service
    text = f"""\
apiVersion: runbook/v1
kind: Playbook
metadata: {{name: http-hang, version: 1.0.0, maturity: 2, owner: tests}}
steps:
  - id: hang
    http: {{url: "{url}/hang"}}
    timeout: 1s
"""
    path = tmp_path / "hang.yaml"
    path.write_text(text)
    started = time.monotonic()
    done = run_cli("run", str(path))
    assert time.monotonic() - started < 4
    assert done.returncode == 1
    assert "timed_out" in done.stdout and "outcome is unknown" in done.stdout


def test_http_spec_defaults() -> None:
    from engine.findings import Location

    spec = parse({"url": "http://x/", "expect_status": [200, 409]}, Location("f"))
    assert spec.method == "GET" and spec.expect_status == (200, 409) and spec.verify_tls


def _one_step(tmp_path: Path, name: str, step: str, inputs: str = "") -> Path:
    """A playbook named `name` whose one step is `step` (YAML, indented as a list item)."""
    path = tmp_path / f"{name}.yaml"
    path.write_text(
        "apiVersion: runbook/v1\n"
        "kind: Playbook\n"
        f"metadata: {{name: {name}, version: 1.0.0, maturity: 2, owner: tests}}\n"
        f"{inputs}steps:\n{step}"
    )
    return path


def test_a_body_with_a_byte_that_is_not_utf8_is_planned_as_that_byte(tmp_path: Path) -> None:
    # argv keeps the byte 0xE9 as U+DCE9; planning its body once ended in an internal error.
    path = _one_step(
        tmp_path,
        "http-body",
        "  - id: post\n"
        '    http: {url: "http://127.0.0.1:9/names", method: POST, body: "{{ inputs.name }}"}\n'
        "    irreversible: test step\n",
        inputs="inputs:\n  name: {type: string}\n",
    )
    planned = run_cli("plan", str(path), "-i", "name=caf\udce9")
    assert planned.returncode == 0, planned.stdout + planned.stderr
    assert "POST http://127.0.0.1:9/names with 4 byte body" in planned.stdout


def test_a_header_http_cannot_carry_fails_the_step_and_says_which_character(
    tmp_path: Path,
) -> None:
    path = _one_step(
        tmp_path,
        "http-header",
        "  - id: get\n"
        "    readonly: true\n"
        '    http: {url: "http://127.0.0.1:9/x", headers: {X-Name: "caf\\u00e9 \\u2713"}}\n',
    )
    done = run_cli("run", str(path))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "request not sent: '✓' cannot go in a URL or header (latin-1 only)" in done.stdout
