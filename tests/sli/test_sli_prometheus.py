"""SLI gating against a real Prometheus scraping a real Pushgateway."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from prom_fixtures import PromStack, start_prometheus, stop
from sli_helpers import playbook, run_cli, run_id_of, samples, step_statuses
from tree import TESTS

pytestmark = pytest.mark.integration

PUSH_SCRIPT = TESTS / "push_metric.py"


def _sli(prom_url: str, job: str, samples_needed: int = 2, timeout: str = "4s") -> str:
    query = f'max(rb_errors{{job="{job}"}})'
    return (
        f"  probe:\n    prometheus: {{url: '{prom_url}', query: '{query}'}}\n"
        f"  healthy: {{below: 1}}\n  settle: 1200ms\n  samples: {samples_needed}\n"
        f"  interval: 700ms\n  timeout: {timeout}\n"
    )


def _push_action(stack: PromStack, job: str, value: int) -> str:
    url = f"{stack.pushgateway_url}/metrics/job/{job}"
    return f"{sys.executable} {PUSH_SCRIPT} {url} rb_errors {value}"


def _job(stack: PromStack, value: int) -> str:
    job = f"job{uuid.uuid4().hex[:8]}"
    stack.push(job, "rb_errors", value)
    stack.wait_for(f'max(rb_errors{{job="{job}"}})', value)
    return job


def test_stops_the_moment_the_sli_recovers(prom_stack: PromStack, tmp_path: Path) -> None:
    job = _job(prom_stack, 5)
    path = playbook(
        tmp_path, _sli(prom_stack.prometheus_url, job), {2: _push_action(prom_stack, job, 0)}
    )
    done = run_cli("run", str(path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "outcome: recovered: the SLI recovered after step2" in done.stdout
    markers = sorted(p.name for p in (tmp_path / "markers").iterdir())
    assert markers == ["step1", "step2"]  # steps 3 and 4 never executed
    statuses = step_statuses(run_id_of(done.stdout))
    assert statuses == {
        "step1": "succeeded",
        "step2": "succeeded",
        "step3": "skipped",
        "step4": "skipped",
    }


def test_healthy_before_start_is_refused(prom_stack: PromStack, tmp_path: Path) -> None:
    job = _job(prom_stack, 0)
    path = playbook(tmp_path, _sli(prom_stack.prometheus_url, job), {})
    done = run_cli("run", str(path))
    assert done.returncode == 5, done.stdout + done.stderr
    assert "nothing to fix: the SLI is already healthy" in done.stdout
    assert not list((tmp_path / "markers").iterdir())


def test_a_flapping_metric_is_not_recovered(prom_stack: PromStack, tmp_path: Path) -> None:
    job = _job(prom_stack, 5)
    sli = _sli(prom_stack.prometheus_url, job, samples_needed=3, timeout="5s")
    path = playbook(tmp_path, sli, {1: _push_action(prom_stack, job, 0)}, steps=1)
    argv = [sys.executable, "-m", "engine", "run", str(path), "--output", "json"]
    verdicts: list[str] = []
    with subprocess.Popen(
        argv, stdout=subprocess.PIPE, text=True, env=os.environ.copy()
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            event = json.loads(line)
            if event["kind"] == "sli_sample":
                verdicts.append(event["verdict"])
                if verdicts.count("healthy") == 1 and event["verdict"] == "healthy":
                    prom_stack.push(job, "rb_errors", 7)  # the service relapses
        assert process.wait(timeout=60) == 3  # not_recovered
    assert "healthy" in verdicts and verdicts[-1] == "unhealthy"
    assert "healthy, healthy, healthy" not in ", ".join(verdicts)


def test_prometheus_gone_mid_run_is_unknown_not_healthy(
    prom_stack: PromStack, tmp_path: Path
) -> None:
    job = _job(prom_stack, 5)
    own = start_prometheus(tmp_path / "own-prom", prom_stack.pushgateway_port)
    try:
        own_url = f"http://127.0.0.1:{own.port}"
        own.wait_for(f'max(rb_errors{{job="{job}"}})', 5)
        kill = f"kill {own.process.pid}; " + _push_action(prom_stack, job, 0)
        path = playbook(tmp_path, _sli(own_url, job, timeout="3s"), {1: kill}, steps=2)
        done = run_cli("run", str(path))
    finally:
        stop(own.process)
    assert done.returncode == 3, done.stdout + done.stderr  # not_recovered, never "recovered"
    after = [s for s in samples(run_id_of(done.stdout)) if s["phase"] != "pre-check"]
    assert after and all(s["verdict"] == "unknown" for s in after)
    assert all("Prometheus did not answer" in s["error"] for s in after)
