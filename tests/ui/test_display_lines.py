"""Progress lines on a pipe or in a file arrive promptly without a write(2) per line; at a
terminal each line arrives at once; a reader that went away is reported, not hidden."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import time
from collections.abc import Iterator
from typing import IO

import pytest
from run_fixtures import (
    current_env,
    playbook,
    run_env,  # noqa: F401  (autouse fixture)
    sleepers,
    start_engine,
    unique_marker,
    wait_for,
)

from engine.ui import display
from engine.ui.display import PromptLines


@pytest.fixture
def pipe() -> Iterator[tuple[int, IO[str]]]:
    read, write = os.pipe()
    stream = os.fdopen(write, "w", encoding="utf-8")
    yield read, stream
    for close in (lambda: os.close(read), stream.close):
        with contextlib.suppress(OSError):  # closed by the test already
            close()


def arrived(fd: int, wait: float) -> str:
    ready, _, _ = select.select([fd], [], [], wait)
    return os.read(fd, 4096).decode() if ready else ""


def test_a_line_on_a_pipe_arrives_within_the_delay_unflushed(
    pipe: tuple[int, IO[str]],
) -> None:
    read, stream = pipe
    lines = PromptLines(stream)

    started = time.monotonic()
    lines.write("→ s1: true\n")
    lines.write("✓ s1 succeeded in 1ms\n")
    got = arrived(read, 5)
    took = time.monotonic() - started
    while got.count("\n") < 2 and time.monotonic() - started < 5:
        got += arrived(read, 1)  # on a loaded machine the two may be flushed apart

    assert got == "→ s1: true\n✓ s1 succeeded in 1ms\n"
    assert display.FLUSH_DELAY_SECONDS <= took < 2.0  # held back, but not for long


def test_flush_puts_every_line_on_the_pipe_now(
    pipe: tuple[int, IO[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(display, "FLUSH_DELAY_SECONDS", 30.0)  # the thread will not do it
    read, stream = pipe
    lines = PromptLines(stream)

    lines.write("outcome: completed\n")
    assert arrived(read, 0.2) == ""
    lines.flush()
    assert arrived(read, 5) == "outcome: completed\n"


def test_at_a_terminal_each_line_arrives_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(display, "FLUSH_DELAY_SECONDS", 30.0)
    controller, terminal = os.openpty()
    stream = os.fdopen(terminal, "w", encoding="utf-8")
    try:
        lines = PromptLines(stream)
        lines.write("→ s1: true\n")
        assert "→ s1: true" in arrived(controller, 5)
    finally:
        stream.close()
        os.close(controller)


def test_a_reader_that_went_away_is_raised_by_the_next_write(
    pipe: tuple[int, IO[str]],
) -> None:
    read, stream = pipe
    lines = PromptLines(stream)
    os.close(read)

    lines.write("→ s1: true\n")  # buffered; the thread's flush finds the pipe closed
    wait_for(lambda: lines.failure is not None, timeout=5, what="the failed flush")
    with pytest.raises(BrokenPipeError):
        lines.write("✓ s1 succeeded\n")


def test_a_long_steps_line_shows_while_it_runs() -> None:
    # The engine's stdout is a pipe: the intent of the step that is still running must
    # be readable, not held in a buffer until the step ends.
    work = current_env().work
    marker = unique_marker()
    engine = start_engine(
        "run", playbook("long.yaml"), "-i", f"dir={work}", "-i", f"marker={marker}"
    )
    assert engine.stdout is not None
    wait_for(lambda: len(sleepers(marker)) == 2, what="the long step")
    seen = ""
    deadline = time.monotonic() + 5
    while "→ long" not in seen and time.monotonic() < deadline:
        seen += arrived(engine.stdout.fileno(), 0.5)

    assert "→ long" in seen, seen
    assert engine.poll() is None  # still running
    engine.send_signal(signal.SIGTERM)
    engine.communicate(timeout=20)
