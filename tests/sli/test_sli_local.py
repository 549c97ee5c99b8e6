"""The same SLI scenarios with `command` and `http` probes: no Prometheus needed.

The HTTP service is a stand-in written here (a real HTTP server on loopback whose
status comes from a file), because what is tested is our probe, not a product; so are
the servers that redirect a probe, the Prometheus API's among them."""

from __future__ import annotations

import http.server
import inspect
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from http_fixtures import Origin, Reply
from sli_helpers import playbook, run_cli, run_id_of, samples, step_statuses

from engine.model.playbook import Healthy
from engine.sli.judge import Reading, SliVerdict, judge
from engine.sli.prometheus import interpret
from engine.sli.registry import PROBES, Probe, probe_type

FAST = "  settle: 100ms\n  samples: 2\n  interval: 100ms\n  timeout: 1s\n"


def _command_sli(state: Path) -> str:
    return f"  probe:\n    command: {{run: ['cat', '{state}']}}\n  healthy: {{below: 1}}\n{FAST}"


def test_command_probe_stops_on_recovery(tmp_path: Path) -> None:
    state = tmp_path / "errors"
    state.write_text("5\n")
    path = playbook(tmp_path, _command_sli(state), {2: f"echo 0 > {state}"})
    done = run_cli("run", str(path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(p.name for p in (tmp_path / "markers").iterdir()) == ["step1", "step2"]
    statuses = step_statuses(run_id_of(done.stdout))
    assert statuses["step3"] == statuses["step4"] == "skipped"


def test_command_probe_exit_code_without_healthy(tmp_path: Path) -> None:
    flag = tmp_path / "ok"
    sli = f"  probe:\n    command: {{run: ['test', '-e', '{flag}']}}\n{FAST}"
    path = playbook(tmp_path, sli, {3: f"touch {flag}"})
    done = run_cli("run", str(path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(p.name for p in (tmp_path / "markers").iterdir()) == ["step1", "step2", "step3"]


def test_command_probe_healthy_before_start_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "errors"
    state.write_text("0\n")
    done = run_cli("run", str(playbook(tmp_path, _command_sli(state), {})))
    assert done.returncode == 5
    assert not list((tmp_path / "markers").iterdir())


def test_unreadable_sli_refuses_unless_forced(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    path = playbook(tmp_path, _command_sli(missing), {}, steps=1)
    refused = run_cli("run", str(path))
    assert refused.returncode == 5
    assert "the SLI cannot be read" in refused.stdout
    forced = run_cli("run", str(path), "--force")
    assert forced.returncode == 3  # ran, and never claimed recovery on an unreadable SLI
    after = [s for s in samples(run_id_of(forced.stdout)) if s["phase"] != "pre-check"]
    assert after and {s["verdict"] for s in after} == {"unknown"}


def test_not_recovered_with_rollback_undoes_steps(tmp_path: Path) -> None:
    state = tmp_path / "errors"
    state.write_text("5\n")
    sli = _command_sli(state) + "  on_not_recovered: rollback\n"
    done = run_cli("run", str(playbook(tmp_path, sli, {}, steps=2)))
    assert done.returncode == 3
    assert not list((tmp_path / "markers").iterdir())  # both steps undone


class _StatusFromFile(http.server.BaseHTTPRequestHandler):
    state: Path

    def do_GET(self) -> None:
        code = int(self.state.read_text().strip())
        self.send_response(code)
        self.end_headers()
        self.wfile.write(b"ready" if code == 200 else b"not ready")

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def status_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    state = tmp_path / "status"
    state.write_text("503")
    handler = type("Handler", (_StatusFromFile,), {"state": state})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/readyz", state
    server.shutdown()
    server.server_close()


def test_http_probe_stops_on_recovery(tmp_path: Path, status_server: tuple[str, Path]) -> None:
    url, state = status_server
    sli = f"  probe:\n    http: {{url: '{url}', expect_status: 200, body_contains: ready}}\n{FAST}"
    done = run_cli("run", str(playbook(tmp_path, sli, {2: f"echo 200 > {state}"})))
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(p.name for p in (tmp_path / "markers").iterdir()) == ["step1", "step2"]


def test_http_probe_closed_port_is_unknown(tmp_path: Path) -> None:
    sli = f"  probe:\n    http: {{url: 'http://127.0.0.1:9/', timeout: 1s}}\n{FAST}"
    done = run_cli("run", str(playbook(tmp_path, sli, {})))
    assert done.returncode == 5
    assert "the SLI cannot be read (request failed" in done.stdout


@pytest.mark.parametrize(
    ("document", "error"),
    [
        ({"status": "success", "data": {"resultType": "vector", "result": []}}, "no series"),
        (
            {
                "status": "success",
                "data": {
                    "resultType": "vector",
                    "result": [
                        {"metric": {}, "value": [1, "1"]},
                        {"metric": {}, "value": [1, "2"]},
                    ],
                },
            },
            "2 series",
        ),
        ({"status": "success", "data": {"resultType": "scalar", "result": [1, "NaN"]}}, "NaN"),
        ({"status": "error", "errorType": "bad_data", "error": "parse error"}, "bad_data"),
        ({"status": "error", "errorType": "execution", "error": "boom"}, "execution"),
        ({"status": "error", "errorType": "timeout", "error": "too slow"}, "timeout"),
    ],
)
def test_prometheus_results_that_are_unknown(document: dict[str, object], error: str) -> None:
    sample = judge(interpret(document), Healthy("below", 1))
    assert sample.verdict is SliVerdict.UNKNOWN
    assert error in sample.error


@pytest.mark.parametrize("name", sorted(PROBES))
def test_every_registered_probe_has_the_protocols_members(name: str) -> None:
    kind = probe_type(name)
    assert isinstance(kind.reads_number, bool)
    for method in ("read", "problems"):
        wanted = list(inspect.signature(getattr(Probe, method)).parameters)[1:]  # without self
        assert list(inspect.signature(getattr(kind, method)).parameters) == wanted, method


def test_judgement_fails_closed() -> None:
    assert judge(Reading(value=float("nan")), Healthy("above", 0)).verdict is SliVerdict.UNKNOWN
    for infinity in (float("inf"), float("-inf")):
        sample = judge(Reading(value=infinity), Healthy("above", 0))
        assert (sample.verdict, sample.error) == (SliVerdict.UNKNOWN, f"the value is {infinity:+}")
        assert judge(Reading(value=infinity), Healthy("below", 0)).verdict is SliVerdict.UNKNOWN
    assert judge(Reading(), None).verdict is SliVerdict.UNKNOWN
    assert judge(Reading(value=3), Healthy("between", 1, 5)).verdict is SliVerdict.HEALTHY
    assert judge(Reading(value=6), Healthy("between", 1, 5)).verdict is SliVerdict.UNHEALTHY


def test_plan_probe_reads_but_changes_nothing(tmp_path: Path) -> None:
    state = tmp_path / "errors"
    state.write_text("5\n")
    text = (
        "apiVersion: runbook/v1\nkind: Playbook\n"
        "metadata: {name: probe-test, version: 1.0.0, maturity: 2, owner: tests}\n"
        f"sli:\n{_command_sli(state)}steps:\n"
        "  - id: look\n    readonly: true\n"
        f"    shell: {{run: ['sh', '-c', 'touch {tmp_path}/looked; echo disk-7'], capture: disk}}\n"
        f"  - id: fix\n    shell: {{run: ['touch', '{tmp_path}/fixed-{{{{ captures.disk }}}}']}}\n"
        "    irreversible: test step\n"
    )
    path = tmp_path / "probe.yaml"
    path.write_text(text)
    done = run_cli("plan", str(path), "--probe")
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "looked").exists()  # the read-only step ran
    assert not list(tmp_path.glob("fixed-*"))  # the mutating one did not
    assert f"{tmp_path}/fixed-disk-7" in done.stdout  # rendered with the real capture
    assert "SLI now: unhealthy 5" in done.stdout
    assert "pre-check would: proceed" in done.stdout


CANARY = "tok-9d41-canary-probe"
PROBE_SECRETS = "secrets:\n  token: {env: PROBE_TOKEN}\n"
ANSWER = b'{"status": "success", "data": {"resultType": "scalar", "result": [0, "0"]}}'


@pytest.mark.parametrize(
    "probe",
    [
        "    http:\n      url: '{url}/readyz'\n"
        "      headers: {{X-Probe-Key: '{{{{ secrets.token }}}}', Cookie: s=1}}\n",
        "    prometheus: {{url: '{url}', query: up, bearer_token_secret: token}}\n",
    ],
    ids=["http", "prometheus"],
)
def test_a_probe_redirected_to_another_origin_sends_it_no_credentials(
    tmp_path: Path,
    http_origin: Origin,
    other_origin: Origin,
    monkeypatch: pytest.MonkeyPatch,
    probe: str,
) -> None:
    monkeypatch.setenv("PROBE_TOKEN", CANARY)
    for path in ("/readyz", "/api/v1/query"):
        http_origin.routes[path] = Reply(302, f"{other_origin.url}{path}?{{query}}")
        other_origin.routes[path] = Reply(200, body=ANSWER)
    sli = f"  probe:\n{probe.format(url=http_origin.url)}  healthy: {{below: 1}}\n{FAST}"
    if "http:" in probe:
        sli = sli.replace("  healthy: {below: 1}\n", "")
    path = playbook(tmp_path, sli, {}, steps=1, secrets=PROBE_SECRETS)
    done = run_cli("run", str(path))
    assert done.returncode == 5 and "nothing to fix" in done.stdout, done.stdout + done.stderr
    assert CANARY in repr(http_origin.received)  # the probe's own origin got the credential
    [landed] = other_origin.received
    assert CANARY not in repr(landed)
    assert not {"Authorization", "X-Probe-Key", "Cookie"} & set(landed.headers)
