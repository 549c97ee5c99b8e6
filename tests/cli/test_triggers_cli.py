"""`runbook triggers`: its filter knows every decision the inbox records."""

from __future__ import annotations

from engine.cli.triggers import DECISIONS
from engine.ledger.inbox import DECISIONS as RECORDED


def test_every_recorded_decision_can_be_filtered_on() -> None:
    assert sorted(DECISIONS) == sorted(RECORDED)
