"""The human time of one run read from its events when the wall clock stepped while a
human worked: a step back never takes time off what other steps took."""

from __future__ import annotations

from engine.core.events import EventKind, RunStarted
from engine.ledger import EventRow, RunRow
from engine.modes.toil_time import human_time

HOUR = 3600.0


def _started() -> RunStarted:
    return RunStarted(
        playbook="chore",
        version="1.0.0",
        maturity=1,
        mode="guided",
        steps=["restart", "look"],
        approved_by=None,
        operator="ana",
        os_user="ana",
        parent_run=None,
        source="",
    )


def _row() -> RunRow:
    return RunRow("r1", "chore", "1.0.0", "h", "guided", "completed", "ana", "box", 0.0, 1.0, {})


def _event(seq: int, ts: float, kind: str, step: str, **data: float) -> EventRow:
    return EventRow(seq, ts, kind, step, dict(data))


def test_a_clock_stepped_back_before_a_retry_takes_no_time_off_the_other_steps() -> None:
    events = [
        _event(1, 1000.0, EventKind.STEP_INTENT, "look"),
        _event(2, 1060.0, EventKind.STEP_RESULT, "look"),  # one minute
        _event(3, 1070.0, EventKind.STEP_INTENT, "restart"),
        _event(4, 1070.0 - HOUR, EventKind.STEP_RETRY, "restart", delay=1.0),  # clock back
        _event(5, 1071.0 - HOUR + 30.0, EventKind.STEP_RESULT, "restart"),  # thirty seconds
    ]

    spent = human_time(_started(), _row(), events)

    assert spent.steps == 90.0
