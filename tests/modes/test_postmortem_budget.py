"""The error budget in a postmortem: spent of the SLO the playbook declares, counted
from the run's recorded SLI samples (engine.modes.postmortem.budget); none declared
says so; a run that belongs to an incident names it."""

from __future__ import annotations

import itertools
import json
import re
import sys
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from prom_fixtures import PromStack
from sli_helpers import events, run_cli
from test_postmortem import FILLED, drill_playbook, field_line, postmortem, ran, write
from tree import TESTS

from engine.model.playbook import Slo
from engine.modes.postmortem.budget import budget_spent, unhealthy_seconds
from engine.modes.postmortem.story import Point

BUDGET_SECONDS = 6.0  # 99% of 10m


def prometheus_playbook(tmp: Path, prom: PromStack, slo: str) -> Path:
    """An SLI unhealthy (5) until the step `heal` pushes 0: about settle + 2 samples."""
    job = f"job{uuid.uuid4().hex[:8]}"
    query = f'max(rb_errors{{job="{job}"}})'
    prom.push(job, "rb_errors", 5)
    prom.wait_for(query, 5)
    heal = f"{sys.executable} {TESTS / 'push_metric.py'} {prom.pushgateway_url}"
    body = (
        f"sli:\n  probe:\n    prometheus: {{url: '{prom.prometheus_url}', query: '{query}'}}\n"
        "  healthy: {below: 1}\n  settle: 1200ms\n  samples: 2\n  interval: 700ms\n"
        f"{slo}"
        f"steps:\n  - id: heal\n    shell: {{run: '{heal}/metrics/job/{job} rb_errors 0'}}\n"
        "    irreversible: it only pushes a metric\n"
    )
    return write(tmp, "pm-budget", body)


def unhealthy_by_the_rule(run_id: str) -> float:
    """The rule, read independently: each unhealthy sample to the next sample."""
    samples = sorted(
        (float(e["data"].get("sample_ts") or e["ts"]), str(e["data"]["verdict"]))
        for e in events(run_id)
        if e["kind"] == "sli_sample"
    )
    assert samples, "the run recorded no SLI sample"
    pairs = itertools.pairwise(samples)
    return sum(after[0] - sample[0] for sample, after in pairs if sample[1] == "unhealthy")


def seconds_of(text: str) -> float:
    match = re.fullmatch(r"([0-9.]+)(ms|s)|([0-9]+)m([0-9]{2})s", text)
    assert match, text
    if match.group(3):
        return int(match.group(3)) * 60 + int(match.group(4))
    return float(match.group(1)) / (1000 if match.group(2) == "ms" else 1)


@pytest.mark.integration
def test_the_budget_spent_is_the_unhealthy_time_over_the_windows_budget(
    prom_stack: PromStack, tmp_path: Path
) -> None:
    slo = "  slo: {objective: 99, window: 10m}\n"
    run_id = ran(prometheus_playbook(tmp_path, prom_stack, slo))

    text = postmortem(run_id)

    spent = field_line(text, "Error budget spent")
    assert spent.endswith(FILLED), spent
    found = re.search(
        r"\*\* ([0-9.e+]+)% of the error budget of 99% over 10m \(([0-9.e-]+) min of 0\.1 min\):"
        r" the SLI was unhealthy ([0-9.ms]+) by its samples",
        spent,
    )
    assert found, spent
    unhealthy = unhealthy_by_the_rule(run_id)
    assert unhealthy >= 1.2  # the settle time after the step, at the least
    stated = seconds_of(found.group(3))
    assert stated == pytest.approx(unhealthy, abs=0.06)
    assert float(found.group(1)) == pytest.approx(100 * unhealthy / BUDGET_SECONDS, rel=0.02)
    assert float(found.group(2)) == pytest.approx(unhealthy / 60, abs=0.06)
    assert "(window × (1 − objective))" in spent
    assert f"= {found.group(3)} ÷ (10m × (1 − 99%)) = {found.group(3)} ÷ 0.1 min" in spent
    burn = field_line(text, "Burn rate")
    rate = re.search(r"\*\* ([0-9.e+]+) over ([0-9.ms]+) \(burn rate = fraction spent", burn)
    assert rate, burn
    duration = seconds_of(rate.group(2))
    expected_burn = (unhealthy / BUDGET_SECONDS) * 600 / duration
    assert float(rate.group(1)) == pytest.approx(expected_burn, rel=0.05)
    assert burn.endswith(FILLED)


@pytest.mark.integration
def test_without_an_slo_the_draft_says_none_is_declared(
    prom_stack: PromStack, tmp_path: Path
) -> None:
    run_id = ran(prometheus_playbook(tmp_path, prom_stack, ""))

    text = postmortem(run_id)

    assert field_line(text, "Error budget spent") == (
        f"- **Error budget spent:** no SLO declared {FILLED}"
    )
    assert "**Burn rate:**" not in text
    assert "**Part of incident:**" not in text


@pytest.mark.integration
def test_a_run_of_an_incident_names_it_and_its_postmortem(
    prom_stack: PromStack, tmp_path: Path
) -> None:
    opened = run_cli("incident", "open", "--title", "checkout errors", "--severity", "sev2")
    assert opened.returncode == 0, opened.stderr
    incident_id = opened.stdout.split()[-1]
    slo = "  slo: {objective: '99.9', window: 30d}\n"
    run_id = ran(prometheus_playbook(tmp_path, prom_stack, slo), "--incident", incident_id)

    text = postmortem(run_id)
    page = postmortem(run_id, "--format", "html")

    assert field_line(text, "Part of incident") == (
        f"- **Part of incident:** {incident_id}: its postmortem tells it whole,"
        f" runbook postmortem {incident_id} {FILLED}"
    )
    assert f"It is part of incident {incident_id} (runbook postmortem {incident_id})." in text
    assert f"runbook postmortem {incident_id}" in page
    whole = postmortem(incident_id)
    assert "of the error budget of 99.9% over 30d (" in field_line(whole, "Error budget spent")
    assert "**Part of incident:**" not in whole


def test_a_drill_tells_the_budget_its_fault_spent(tmp_path: Path) -> None:
    path, _ = drill_playbook(tmp_path)
    slo = "  slo: {objective: 99.5, window: 1h}\n"
    path.write_text(path.read_text().replace("steps:\n", f"{slo}steps:\n", 1))
    done = run_cli("drill", str(path), "--yes", "--output", "json")
    assert done.returncode == 0, done.stdout + done.stderr
    drill_id = json.loads(done.stdout)["drill_id"]

    text = postmortem(drill_id)

    spent = field_line(text, "Error budget spent")
    found = re.search(r"\*\* ([0-9.e+-]+)% of the error budget of 99.5% over 1h \(", spent)
    assert found and spent.endswith(FILLED), spent
    assert float(found.group(1)) > 0  # the fault left the SLI unhealthy for a while
    assert "÷ (1h × (1 − 99.5%)) = " in spent and spent.count("0.3 min") == 2  # 1h x 0.5% = 18s
    assert field_line(text, "Burn rate").endswith(FILLED)


def test_a_drill_of_an_incident_names_it(tmp_path: Path) -> None:
    opened = run_cli("incident", "open", "--title", "game day")
    assert opened.returncode == 0, opened.stderr
    incident_id = opened.stdout.split()[-1]
    path, _ = drill_playbook(tmp_path)
    done = run_cli("drill", str(path), "--yes", "--output", "json", "--incident", incident_id)
    assert done.returncode == 0, done.stdout + done.stderr

    text = postmortem(json.loads(done.stdout)["drill_id"])

    assert f"- **Part of incident:** {incident_id}: " in text
    assert f"It is part of incident {incident_id} (runbook postmortem {incident_id})." in text


def point(ts: float, verdict: str) -> Point:
    return Point(ts, None, verdict, "after")


def test_the_rule_counts_each_unhealthy_sample_to_the_next_and_the_last_to_the_end() -> None:
    points = [
        point(10.0, "unhealthy"),
        point(14.0, "unknown"),  # unreadable: its span counts for nothing
        point(20.0, "unhealthy"),
        point(21.5, "healthy"),
        point(30.0, "unhealthy"),
    ]
    assert unhealthy_seconds(list(reversed(points)), end=None) == 4.0 + 1.5
    assert unhealthy_seconds(points, end=32.0) == 4.0 + 1.5 + 2.0
    slo = Slo(Decimal("99.9"), 30 * 86400.0, "30d")
    spent = budget_spent(slo, points, 32.0, duration=60.0)
    assert spent.budget == pytest.approx(2592.0)
    assert spent.spent == pytest.approx(7.5 / 2592.0)
    assert spent.burn_rate == pytest.approx(7.5 / 2592.0 * 30 * 86400 / 60)
