"""The order of an incident's times, in the one place it is defined."""

from __future__ import annotations

import pytest

from engine.core.errors import UsageError
from engine.ledger.incident_times import (
    HUMAN,
    RECORD,
    OrderError,
    TimeOf,
    check_human,
    epoch_of,
    parse_time,
    rfc3339,
    settle,
)

T0 = 1_796_637_600.0  # 2026-12-07T10:00:00Z


def test_times_as_alertmanager_and_people_write_them() -> None:
    assert epoch_of("2026-12-07T10:00:00Z") == T0
    assert epoch_of("2026-12-07T11:00:00+01:00") == T0
    assert epoch_of("2026-12-07T10:00:00.123456789Z") == pytest.approx(T0 + 0.123456)
    assert epoch_of("0001-01-01T00:00:00Z") is None  # a firing alert's endsAt
    assert epoch_of("2026-12-07T10:00:00") is None  # no zone: not a time we can place
    assert epoch_of("yesterday") is None
    assert epoch_of("1969-07-20T20:17:40Z") == -14_182_940.0
    assert epoch_of("9999-12-31T23:59:59Z") == 253_402_300_799.0


def test_a_leap_second_is_the_start_of_the_next_minute_as_in_posix_time() -> None:
    new_year = epoch_of("2017-01-01T00:00:00Z")
    assert epoch_of("2016-12-31T23:59:60Z") == new_year
    assert epoch_of("2016-12-31T18:59:60-05:00") == new_year
    assert parse_time("--detected", "2016-12-31T23:59:60.5Z") == pytest.approx(new_year + 0.5)
    assert epoch_of("2016-12-31T23:59:61Z") is None


@pytest.mark.parametrize("text", ["9999-12-31T23:59:59-01:00", "0001-01-01T00:30:00+01:00"])
def test_a_time_whose_utc_date_is_past_year_9999_or_before_year_1_is_not_one(text: str) -> None:
    # a date in its own zone, but none in UTC: it could never be shown
    assert epoch_of(text) is None
    with pytest.raises(UsageError, match="is not a time"):
        parse_time("--resolved", text)
    assert parse_time("--detected", "now", now=T0) == T0
    assert rfc3339(T0 + 0.5) == "2026-12-07T10:00:00.500Z"
    with pytest.raises(UsageError, match="--detected: '10:00' is not a time"):
        parse_time("--detected", "10:00")


def test_the_record_fills_in_lifecycle_order_what_keeps_the_order() -> None:
    record = {
        "impact_started": T0,
        "detected": T0 + 60,
        "response_started": T0 + 120,
        "mitigated": T0 + 100,  # before the response: left out
        "resolved": T0 + 300,
    }
    times = settle({}, record)
    assert times["detected"] == TimeOf(T0 + 60, RECORD)
    assert times["mitigated"].at is None
    assert times["mitigated"].ignored == (
        "the record's mitigated 2026-12-07T10:01:40.000Z is before response started"
        " 2026-12-07T10:02:00.000Z (record): not applied"
    )
    assert times["resolved"] == TimeOf(T0 + 300, RECORD)


def test_a_human_time_wins_and_the_record_yields_to_it() -> None:
    times = settle({"resolved": T0 + 30}, {"impact_started": T0, "response_started": T0 + 60})
    assert times["resolved"] == TimeOf(T0 + 30, HUMAN)
    assert times["response_started"].at is None
    assert "is after resolved 2026-12-07T10:00:30.000Z (human)" in (
        times["response_started"].ignored
    )
    # detected is free against the others: an alert may arrive after the end
    assert settle({}, {"impact_started": T0, "resolved": T0 + 5, "detected": T0 + 9})[
        "detected"
    ] == TimeOf(T0 + 9, RECORD)


def test_a_human_time_is_checked_against_every_time_that_stands() -> None:
    standing = settle({}, {"impact_started": T0, "response_started": T0 + 60})
    with pytest.raises(OrderError, match=r"mitigated .*:00:30.000Z \(human\) would be before"):
        check_human(standing, {"mitigated": T0 + 30})
    with pytest.raises(OrderError, match=r"impact started .* would be after response started"):
        check_human(standing, {"impact_started": T0 + 90})
    after = check_human(standing, {"impact_started": T0 + 90, "response_started": T0 + 95})
    assert after["response_started"] == TimeOf(T0 + 95, HUMAN)
