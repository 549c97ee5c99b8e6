"""Periods of history (`runbook toil --since`) take days and weeks as well as a
duration's units; a playbook's durations stay as they were."""

from __future__ import annotations

import pytest

from engine.core.durations import parse_duration, parse_period


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30d", 30 * 86400), ("2w", 14 * 86400), ("1.5d", 36 * 3600), ("12h", 43200), ("90s", 90)],
)
def test_a_period_is_read_in_seconds(text: str, seconds: float) -> None:
    assert parse_period(text) == seconds


@pytest.mark.parametrize("text", ["0d", "0.0w", "30", "30x", "-1d", "d", " 30d", ""])
def test_what_is_not_a_period_is_refused_with_examples(text: str) -> None:
    with pytest.raises(ValueError, match=r"is not a period — use e\.g\. 12h, 30d or 2w"):
        parse_period(text)


def test_a_playbooks_durations_take_no_days() -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration("30d")
