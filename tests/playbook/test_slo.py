"""`sli.slo:` (engine.playbook.build): the objective is exact, the window a period, and a
playbook that does not declare one keeps its content hash; the corpus in
tests/playbooks/invalid/ has the errors."""

from __future__ import annotations

from decimal import Decimal

import pytest

from engine.playbook.build import content_hash
from engine.playbook.loader import load_playbook

PLAYBOOK = """apiVersion: runbook/v1
kind: Playbook
metadata: {{name: slo, version: 1.0.0, maturity: 2, owner: sre}}
sli:
  probe: {{command: {{run: "echo 1"}}}}
  healthy: {{below: 2}}
{slo}steps:
  - id: look
    readonly: true
    shell: {{run: uptime}}
"""


@pytest.mark.parametrize(
    ("written", "objective", "window", "budget"),
    [
        ("{objective: 99.9, window: 30d}", "99.9", 2_592_000.0, 2_592.0),
        ('{objective: "99.95", window: 4w}', "99.95", 2_419_200.0, 1_209.6),
        ("{objective: 99, window: 1h}", "99", 3_600.0, 36.0),
    ],
)
def test_the_objective_is_exact_and_the_budget_is_window_times_one_minus_it(
    written: str, objective: str, window: float, budget: float
) -> None:
    sli = load_playbook("slo.yaml", text=PLAYBOOK.format(slo=f"  slo: {written}\n")).sli
    assert sli is not None and sli.slo is not None
    assert sli.slo.objective == Decimal(objective)
    assert sli.slo.window == window
    assert sli.slo.budget_seconds == pytest.approx(budget, abs=1e-9)


def test_a_playbook_without_an_slo_keeps_its_content_hash() -> None:
    """The hash is of the data as written: a format that gained a key leaves it alone."""
    playbook = load_playbook("slo.yaml", text=PLAYBOOK.format(slo=""))
    assert playbook.sli is not None and playbook.sli.slo is None
    data = {
        "apiVersion": "runbook/v1",
        "kind": "Playbook",
        "metadata": {"name": "slo", "version": "1.0.0", "maturity": 2, "owner": "sre"},
        "sli": {"probe": {"command": {"run": "echo 1"}}, "healthy": {"below": 2}},
        "steps": [{"id": "look", "readonly": True, "shell": {"run": "uptime"}}],
    }
    assert playbook.content_hash == content_hash(data)
