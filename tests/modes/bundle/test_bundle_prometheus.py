"""Replay of a run gated by a real Prometheus scraping a real Pushgateway: the recorded
samples are judged again, and Prometheus is not asked (what it says now is no part of
what the run saw)."""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path

import pytest
from prom_fixtures import PromStack
from sli_helpers import playbook, run_cli, run_id_of
from tree import TESTS

pytestmark = pytest.mark.integration


def test_a_prometheus_gated_run_replays_on_its_recorded_samples(
    prom_stack: PromStack, tmp_path: Path
) -> None:
    job = f"job{uuid.uuid4().hex[:8]}"
    query = f'max(rb_errors{{job="{job}"}})'
    prom_stack.push(job, "rb_errors", 5)
    prom_stack.wait_for(query, 5)
    sli = (
        f"  probe:\n    prometheus: {{url: '{prom_stack.prometheus_url}', query: '{query}'}}\n"
        "  healthy: {below: 1}\n  settle: 1200ms\n  samples: 2\n  interval: 700ms\n"
        "  timeout: 4s\n"
    )
    fix = f"{sys.executable} {TESTS / 'push_metric.py'} {prom_stack.pushgateway_url}"
    path = playbook(tmp_path, sli, {2: f"{fix}/metrics/job/{job} rb_errors 0"})
    done = run_cli("run", str(path))
    assert done.returncode == 0, done.stdout + done.stderr
    bundle = tmp_path / "run.tar.gz"
    assert run_cli("export", run_id_of(done.stdout), "-o", str(bundle)).returncode == 0

    prom_stack.push(job, "rb_errors", 7)  # the service broke again since
    prom_stack.wait_for(query, 7)
    same = run_cli("replay", str(bundle), "--output", "json")
    assert same.returncode == 0, same.stdout + same.stderr
    assert json.loads(same.stdout)["differences"] == []

    path.write_text(path.read_text().replace("healthy: {below: 1}", "healthy: {below: 0}"))
    stricter = run_cli("replay", str(bundle), "--output", "json")
    assert stricter.returncode == 1
    differences = json.loads(stricter.stdout)["differences"]
    (recovery,) = [d for d in differences if d["what"] == "stop-on-recovery"]
    assert recovery["recorded"] == "recovered after step2"
    assert recovery["now"] == "not recovered within the recorded samples"
