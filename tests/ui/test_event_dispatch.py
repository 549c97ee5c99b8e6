"""Event kinds and their dispatch: every kind has a payload, every display handles each
kind or says it ignores it, an unknown kind is ignored, and the bus stores a payload's
fields in their order, redacted in its typed view as in its data."""

from __future__ import annotations

import contextlib
import io
import os
import select
from collections.abc import Iterator
from typing import IO

import pytest

from engine.core.events import (
    PAYLOADS,
    Event,
    EventKind,
    Output,
    RunFinished,
    StepIntent,
    StepResultEvent,
)
from engine.core.outcome import Outcome
from engine.run.events import EventBus
from engine.templating.redaction import Redactor
from engine.ui.checklist import CHECKLIST_IGNORED, ChecklistLines
from engine.ui.display import PLAIN_IGNORED, JsonLines, PlainLines, PromptLines
from engine.ui.live import LIVE_IGNORED, LiveDisplay

RUN_ID = "r20260101T000000000-abcdef"


def plain_lines() -> tuple[PlainLines, io.StringIO]:
    stream = io.StringIO()
    return PlainLines(PromptLines(stream)), stream


def test_every_kind_has_one_payload_struct_of_that_kind() -> None:
    assert set(PAYLOADS) == set(EventKind)
    assert all(cls.kind is kind for kind, cls in PAYLOADS.items())


def test_plain_lines_handle_every_kind_or_declare_it_ignored() -> None:
    handled = set(plain_lines()[0].handlers)
    assert handled | PLAIN_IGNORED == set(EventKind)
    assert not handled & PLAIN_IGNORED


def test_the_live_view_handles_every_kind_or_declares_it_ignored() -> None:
    handled = set(LiveDisplay().handlers)
    assert handled | LIVE_IGNORED == set(EventKind)
    assert not handled & LIVE_IGNORED


def test_the_checklist_handles_every_kind_or_declares_it_ignored() -> None:
    handled = set(ChecklistLines().handlers)
    assert handled | CHECKLIST_IGNORED == set(EventKind)
    assert not handled & CHECKLIST_IGNORED


def test_a_kind_the_engine_does_not_know_is_shown_by_no_display() -> None:
    event = Event("from_a_newer_engine", RUN_ID, "s1", {"command": "true"})  # type: ignore[arg-type]
    lines, stream = plain_lines()
    checklist_stream = io.StringIO()
    checklist = ChecklistLines(PromptLines(checklist_stream))
    live = LiveDisplay()

    lines(event)
    checklist(event)
    live(event)

    assert lines.format(event) is None
    assert stream.getvalue() == checklist_stream.getvalue() == ""
    assert live.rows == {}
    assert live.sli_line == ""


def test_an_ignored_kind_is_shown_by_no_display() -> None:
    lines, stream = plain_lines()
    for kind in PLAIN_IGNORED:
        event = Event(kind, RUN_ID, "s1", {})
        lines(event)
        assert lines.format(event) is None
    assert stream.getvalue() == ""


def test_the_data_of_an_event_are_its_payloads_fields_in_order_without_the_unset() -> None:
    bus = EventBus(lambda data: data)
    unrendered = StepResultEvent(
        status="failed", exit_code=None, message="could not render", attempts=0, duration=0.0
    )

    event = bus.emit(unrendered, RUN_ID, "s1")

    assert event.kind == "step_result"
    assert list(event.data) == ["status", "exit_code", "message", "attempts", "duration"]
    assert event.payload is unrendered


def test_the_kind_and_outcome_are_shown_as_the_same_strings_in_json() -> None:
    bus = EventBus(lambda data: data)
    stream = io.StringIO()
    bus.listeners.append(JsonLines(PromptLines(stream)))

    bus.emit(RunFinished(outcome=Outcome.ROLLBACK_FAILED, message="m"), RUN_ID)

    line = stream.getvalue()
    assert '"kind": "run_finished"' in line
    assert line.endswith(f'"run_id": "{RUN_ID}", "outcome": "rollback_failed", "message": "m"}}\n')


def test_a_secret_is_redacted_in_the_typed_payload_as_in_the_data() -> None:
    redactor = Redactor({"token": "s3cr3t-value"})
    bus = EventBus(redactor.redact_data)
    seen: list[Event] = []

    def listener(event: Event) -> None:
        seen.append(event)

    bus.listeners.append(listener)

    bus.emit(StepIntent(command="curl -H 's3cr3t-value' x", readonly=True), RUN_ID, "s1")

    (event,) = seen
    assert isinstance(event.payload, StepIntent)
    assert "s3cr3t-value" not in event.payload.command
    assert event.payload.command == event.data["command"]
    assert event.payload.readonly is True


@pytest.fixture
def pipe() -> Iterator[tuple[int, IO[str]]]:
    read, write = os.pipe()
    stream = os.fdopen(write, "w", encoding="utf-8")
    yield read, stream
    for close in (lambda: os.close(read), stream.close):
        with contextlib.suppress(OSError):
            close()


def test_a_failing_display_has_the_others_lines_written_before_its_warning(
    pipe: tuple[int, IO[str]], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from engine.ui import display

    monkeypatch.setattr(display, "FLUSH_DELAY_SECONDS", 30.0)  # only a flush writes them
    read, stream = pipe
    bus = EventBus(lambda data: data)
    bus.listeners.append(PlainLines(PromptLines(stream)))

    def broken(event: Event) -> None:
        raise RuntimeError("broken display")

    bus.listeners.append(broken)
    bus.transient(Output(line="held back"), RUN_ID, "s1")

    ready, _, _ = select.select([read], [], [], 1)
    assert ready and os.read(read, 4096).decode() == "    │ held back\n"
    assert "a display failed (broken display)" in capsys.readouterr().err
