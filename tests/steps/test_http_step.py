"""The `http` step against a stand-in service on loopback (a real HTTP server written
here: what is tested is our client, its undo, deadline and redaction)."""

from __future__ import annotations

import base64
import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from http_fixtures import Origin, Reply
from sli_helpers import events, run_cli, run_id_of

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
    from engine.core.findings import Location

    spec = parse({"url": "http://x/", "expect_status": [200, 409]}, Location("f"))
    assert spec.method == "GET" and spec.expect_status == (200, 409) and spec.verify_tls


def _one_step(
    tmp_path: Path, name: str, step: str, inputs: str = "", version: str = "1.0.0"
) -> Path:
    """A playbook named `name` (at `version`) whose one step is `step` (YAML, indented as
    a list item); `inputs` is YAML put before the steps (inputs, secrets)."""
    path = tmp_path / f"{name}.yaml"
    path.write_text(
        "apiVersion: runbook/v1\n"
        "kind: Playbook\n"
        f"metadata: {{name: {name}, version: {version}, maturity: 2, owner: tests}}\n"
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


KEY = "key-51aa-canary-0e3d"
SECRETS = "secrets:\n  token: {env: FLAG_TOKEN}\n  key: {env: API_KEY}\n"
CREDENTIALS = (
    "      headers:\n"
    '        Authorization: "Bearer {{ secrets.token }}"\n'
    '        X-Api-Key: "k={{ secrets.key }}"\n'
    '        Cookie: "session=s3"\n'
    '        X-Key-Reversed: "{{ secrets.key | reverse }}"\n'  # a form no redactor knows
    '        X-Service-Token: "written-out"\n'  # a credential by its name alone
    '        X-Request-Id: "r-1"\n'
)

WITHHELD = "Authorization, X-Api-Key, Cookie, X-Key-Reversed, X-Service-Token"


@pytest.fixture
def canaries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLAG_TOKEN", CANARY)
    monkeypatch.setenv("API_KEY", KEY)


def _get(url: str, step_id: str = "fetch", extra: str = CREDENTIALS) -> str:
    """A read-only GET step; `extra`: YAML lines after its url (by default, credentials)."""
    return f'  - id: {step_id}\n    readonly: true\n    http:\n      url: "{url}"\n{extra}'


def _post(url: str, extra: str = "", body: str = "{provider: fallback}") -> str:
    return (
        "  - id: post\n"
        "    irreversible: test step\n"
        "    timeout: 5s\n"
        "    http:\n"
        f'      url: "{url}"\n'
        "      method: POST\n"
        '      headers: {Authorization: "Bearer {{ secrets.token }}"}\n'
        f"      json: {body}\n"
        f"{extra}"
    )


def _events_text(done: Any) -> str:
    """The run's recorded events, as text (what `runbook show` keeps)."""
    shown = run_cli("show", run_id_of(done.stdout), "--output", "json")
    return json.dumps(json.loads(shown.stdout)["events"])


@pytest.mark.usefixtures("canaries")
def test_a_redirect_to_another_origin_carries_no_credentials(
    tmp_path: Path, http_origin: Origin, other_origin: Origin
) -> None:
    http_origin.routes["/start"] = Reply(302, "/next")  # same origin: credentials kept
    http_origin.routes["/next"] = Reply(301, f"{other_origin.url}/landing")
    other_origin.routes["/landing"] = Reply(200, body=b'{"where": "landing"}')
    path = _one_step(tmp_path, "cross", _get(f"{http_origin.url}/start"), SECRETS)
    done = run_cli("run", str(path))
    assert done.returncode == 0, done.stdout + done.stderr
    sent = [r.headers.get("Authorization") for r in http_origin.received]
    assert sent == [f"Bearer {CANARY}"] * 2
    [landed] = other_origin.received
    assert landed.path == "/landing" and landed.headers.get("X-Request-Id") == "r-1"
    assert not set(WITHHELD.split(", ")) & set(landed.headers)
    assert CANARY not in repr(landed) and KEY not in repr(landed) and KEY[::-1] not in repr(landed)
    assert f"{WITHHELD} not sent to another origin" in _events_text(done)


@pytest.mark.usefixtures("canaries")
def test_https_is_never_left_for_http(
    tmp_path: Path, https_origin: Origin, http_origin: Origin
) -> None:
    https_origin.routes["/ok"] = Reply(200)  # verified against the test's own certificate
    https_origin.routes["/down"] = Reply(302, f"{http_origin.url}/landing?{{query}}")
    path = _one_step(
        tmp_path,
        "downgrade",
        _get(f"{https_origin.url}/ok", "ok")
        + _get(f"{https_origin.url}/down?t={{{{ secrets.token }}}}"),
        SECRETS,
    )
    done = run_cli("run", str(path))
    assert done.returncode == 1, done.stdout + done.stderr
    assert https_origin.paths() == ["GET /ok", f"GET /down?t={CANARY}"]
    assert http_origin.received == []
    assert (
        f"refused to follow the redirect from {https_origin.url}/down?t=«redacted:token» to "
        f"{http_origin.url}/landing?t=«redacted:token»: it would leave https for plain http"
    ) in done.stdout
    assert CANARY not in done.stdout + done.stderr + _events_text(done)


def test_tls_is_verified_unless_the_step_opts_out(
    tmp_path: Path, https_origin: Origin, http_origin: Origin, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SSL_CERT_FILE")  # the origin's certificate is trusted no more
    https_origin.routes["/ok"] = Reply(200)
    https_origin.routes["/down"] = Reply(302, f"{http_origin.url}/landing")
    done = run_cli("run", str(_one_step(tmp_path, "tls", _get(f"{https_origin.url}/ok", extra=""))))
    assert done.returncode == 1 and "CERTIFICATE_VERIFY_FAILED" in done.stdout, done.stdout
    unverified = "      verify_tls: false\n"
    steps = _get(f"{https_origin.url}/ok", "ok", unverified) + _get(
        f"{https_origin.url}/down", "down", unverified
    )
    done = run_cli("run", str(_one_step(tmp_path, "tls", steps, version="1.0.1")))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "✓ ok succeeded" in done.stdout and "it would leave https for plain http" in done.stdout
    assert done.stderr == "" and http_origin.received == []  # no warning either


@pytest.mark.usefixtures("canaries")
def test_a_redirected_post_fails_and_is_not_repeated_as_a_get(
    tmp_path: Path, http_origin: Origin
) -> None:
    url = http_origin.url
    http_origin.routes["/switch"] = Reply(302, "/switched")
    http_origin.routes["/switched"] = Reply(200)
    done = run_cli("run", str(_one_step(tmp_path, "post", _post(f"{url}/switch"), SECRETS)))
    assert done.returncode == 1, done.stdout + done.stderr
    assert (
        f"the server redirected POST {url}/switch to {url}/switched (HTTP 302), and the "
        "request was not repeated there" in done.stdout
    )
    allowed = _post(f"{url}/switch", "      follow_redirects: true\n")
    done = run_cli("run", str(_one_step(tmp_path, "post", allowed, SECRETS, "1.0.1")))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "following it would send a GET without the body" in done.stdout
    assert http_origin.paths() == ["POST /switch"] * 2


@pytest.mark.usefixtures("canaries")
def test_a_redirect_status_listed_in_expect_status_is_the_answer(
    tmp_path: Path, http_origin: Origin
) -> None:
    http_origin.routes["/orders"] = Reply(303, "/orders/7")  # See Other: done, look there
    step = _post(f"{http_origin.url}/orders", "      expect_status: [201, 303]\n")
    done = run_cli("run", str(_one_step(tmp_path, "see-other", step, SECRETS)))
    assert done.returncode == 0, done.stdout + done.stderr
    assert http_origin.paths() == ["POST /orders"]


@pytest.mark.usefixtures("canaries")
def test_a_post_allowed_to_follow_a_307_keeps_its_method_and_body(
    tmp_path: Path, http_origin: Origin
) -> None:
    http_origin.routes["/v1/flag"] = Reply(307, "/v2/flag")
    http_origin.routes["/v2/flag"] = Reply(200)
    step = _post(f"{http_origin.url}/v1/flag", "      follow_redirects: true\n")
    path = _one_step(tmp_path, "moved", step, SECRETS)
    planned = run_cli("plan", str(path))
    assert f"POST {http_origin.url}/v1/flag with 24 byte body, following 307/308 redirects" in (
        planned.stdout
    ), planned.stdout + planned.stderr
    done = run_cli("run", str(path))
    assert done.returncode == 0, done.stdout + done.stderr
    first, moved = http_origin.received
    assert (first.method, moved.method, moved.path) == ("POST", "POST", "/v2/flag")
    assert moved.body == first.body == b'{"provider": "fallback"}'
    assert moved.headers["Authorization"] == f"Bearer {CANARY}"  # same origin


@pytest.mark.usefixtures("canaries")
def test_a_307_to_another_origin_drops_credentials_and_never_takes_a_secret_body(
    tmp_path: Path, http_origin: Origin, other_origin: Origin
) -> None:
    http_origin.routes["/flag"] = Reply(307, f"{other_origin.url}/flag")
    other_origin.routes["/flag"] = Reply(200)
    follow = "      follow_redirects: true\n"
    done = run_cli(
        "run", str(_one_step(tmp_path, "moved", _post(f"{http_origin.url}/flag", follow), SECRETS))
    )
    assert done.returncode == 0, done.stdout + done.stderr
    [landed] = other_origin.received
    assert landed.body == b'{"provider": "fallback"}' and "Authorization" not in landed.headers
    secret_body = _post(f"{http_origin.url}/flag", follow, '{token: "{{ secrets.key }}"}')
    done = run_cli("run", str(_one_step(tmp_path, "moved", secret_body, SECRETS, "1.0.1")))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "the body holds a secret and would go to another origin" in done.stdout
    assert len(other_origin.received) == 1 and KEY not in repr(other_origin.received)


def test_redirect_loops_and_chains_are_cut(tmp_path: Path, http_origin: Origin) -> None:
    url = http_origin.url
    http_origin.routes |= {"/a": Reply(302, "/b"), "/b": Reply(302, f"{url}/a")}
    http_origin.routes |= {f"/hop/{n}": Reply(302, f"/hop/{n + 1}") for n in range(20)}
    steps = _get(f"{url}/a", "loop", extra="")
    done = run_cli("run", str(_one_step(tmp_path, "loop", steps)))
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"redirect loop: {url}/a → {url}/b → {url}/a" in done.stdout
    steps = _get(f"{url}/hop/0", "chain", extra="")
    done = run_cli("run", str(_one_step(tmp_path, "chain", steps)))
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"more than 10 redirects, from {url}/hop/0 to {url}/hop/11" in done.stdout
    assert len(http_origin.received) == 2 + 11  # /a, /b; then /hop/0 and ten redirects


def test_the_timeout_bounds_a_body_that_trickles_in(tmp_path: Path, http_origin: Origin) -> None:
    http_origin.routes["/slow"] = Reply(200, body=b"x" * 20, trickle=0.25)  # 5 s in all
    step = _get(f"{http_origin.url}/slow", "slow", extra="") + "    timeout: 1s\n"
    done = run_cli("run", str(_one_step(tmp_path, "slow", step)))
    assert done.returncode == 1, done.stdout + done.stderr
    [result] = [e["data"] for e in events(run_id_of(done.stdout)) if e["kind"] == "step_result"]
    assert result["status"] == "timed_out" and result["duration"] < 2.5, result


@pytest.mark.usefixtures("canaries")
def test_credentials_in_the_url_are_sent_as_basic_auth_to_its_origin_only(
    tmp_path: Path, http_origin: Origin, other_origin: Origin
) -> None:
    http_origin.routes["/start"] = Reply(302, f"{other_origin.url}/landing")
    other_origin.routes["/landing"] = Reply(200)
    host = http_origin.url.removeprefix("http://")
    step = _get(f"http://ops:{{{{ secrets.token }}}}@{host}/start", extra="")
    done = run_cli("run", str(_one_step(tmp_path, "userinfo", step, SECRETS)))
    assert done.returncode == 0, done.stdout + done.stderr
    basic = base64.b64encode(f"ops:{CANARY}".encode()).decode()
    assert http_origin.received[0].headers["Authorization"] == f"Basic {basic}"
    [landed] = other_origin.received
    assert "Authorization" not in landed.headers and basic not in repr(landed)


def test_a_get_told_not_to_follow_redirects_is_judged_on_the_redirect(
    tmp_path: Path, http_origin: Origin
) -> None:
    http_origin.routes["/old"] = Reply(301, "/new")
    step = _get(f"{http_origin.url}/old", extra="      follow_redirects: false\n")
    done = run_cli("run", str(_one_step(tmp_path, "stay", step)))
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"HTTP 301 (a redirect to {http_origin.url}/new, not followed), expected" in done.stdout
    assert http_origin.paths() == ["GET /old"]


def test_a_url_or_redirect_that_cannot_be_parsed_fails_the_step(
    tmp_path: Path, http_origin: Origin
) -> None:
    bad_port = _get("http://127.0.0.1:x/flag", extra="")
    done = run_cli("run", str(_one_step(tmp_path, "bad-url", bad_port)))
    assert done.returncode == 1, done.stdout + done.stderr  # was an internal error (70)
    assert "request not sent: 'http://127.0.0.1:x/flag' is not a valid http(s) URL" in done.stdout
    http_origin.routes["/moved"] = Reply(302, "http://[fe80::1/flag")
    bad_location = _get(f"{http_origin.url}/moved", extra="")
    done = run_cli("run", str(_one_step(tmp_path, "bad-location", bad_location)))
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"redirected {http_origin.url}/moved to 'http://[fe80::1/flag', which is not" in (
        done.stdout
    )


def test_an_abort_ends_a_request_in_flight_as_unknown(tmp_path: Path, http_origin: Origin) -> None:
    http_origin.routes["/slow"] = Reply(200, body=b"xx", trickle=10)  # 20 s in all
    step = _post(f"{http_origin.url}/slow").replace("timeout: 5s", "timeout: 60s")
    path = _one_step(tmp_path, "abort", step.replace("{{ secrets.token }}", "t"))
    engine = subprocess.Popen(
        [sys.executable, "-m", "engine", "run", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while not http_origin.received and time.monotonic() < deadline:
            time.sleep(0.05)
        started = time.monotonic()
        engine.send_signal(signal.SIGTERM)
        output, _ = engine.communicate(timeout=30)
    finally:
        engine.kill()
    assert time.monotonic() - started < 6, output
    assert "cancelled; the outcome is unknown" in output and "outcome: aborted" in output


@pytest.mark.usefixtures("canaries")
def test_a_refusal_after_a_redirect_says_which_credentials_were_withheld(
    tmp_path: Path, http_origin: Origin, other_origin: Origin
) -> None:
    http_origin.routes["/admin"] = Reply(301, f"{other_origin.url}/admin")
    other_origin.routes["/admin"] = Reply(401, body=b"who are you?")
    done = run_cli(
        "run", str(_one_step(tmp_path, "moved", _get(f"{http_origin.url}/admin"), SECRETS))
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert (
        f"HTTP 401, expected 200 or 201 or 202 or 204; {WITHHELD} not sent to "
        f"{other_origin.url}/admin, another origin"
    ) in done.stdout


@pytest.mark.usefixtures("canaries")
def test_a_redirect_that_carries_a_secret_to_another_origin_is_not_followed(
    tmp_path: Path, http_origin: Origin, other_origin: Origin
) -> None:
    http_origin.routes["/go"] = Reply(302, f"{other_origin.url}/landing?{{query}}")  # echoed
    step = _get(f"{http_origin.url}/go?token={{{{ secrets.token }}}}", extra="")
    done = run_cli("run", str(_one_step(tmp_path, "echo", step, SECRETS)))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "the new address holds a secret and is another origin" in done.stdout
    assert other_origin.received == [] and CANARY not in done.stdout
