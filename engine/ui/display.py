"""Listeners that show a run: plain lines, one JSON object per line, or quiet.

The live terminal view (`engine.ui.live`) builds on the same events.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import sys
import threading
import time
from collections.abc import Mapping
from typing import IO, Any

from engine.core.durations import format_seconds
from engine.run.events import Event
from engine.ui.terminal_text import printable, printable_line

SYMBOLS = {
    "succeeded": "✓",
    "failed": "✗",
    "timed_out": "⏱",
    "unknown": "?",
    "skipped": "-",
}


def one_line(command: str, width: int = 100) -> str:
    """The first line of a command, shortened, with a note of what was left out."""
    lines = command.strip().splitlines() or [""]
    first = lines[0] if len(lines[0]) <= width else lines[0][: width - 1] + "…"
    return f"{first}  (+{len(lines) - 1} lines)" if len(lines) > 1 else first


def shown_data(data: Mapping[str, Any]) -> dict[str, Any]:
    """An event's values as they may be shown: no character a terminal would obey.

    A command keeps its newlines (`one_line` shows its first line); a message's
    further lines are indented, so no text from a step can pass for a line of the
    engine's own, such as `outcome: completed`; any other value stays on its line.
    """
    return {key: _shown_value(key, value) for key, value in data.items()}


def _shown_value(key: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if key == "command":
        return printable(value)
    if key == "message":
        return printable(value).replace("\n", "\n      ")
    return printable_line(value)


# A line written to a pipe or a file is on it at most this long after it was written.
FLUSH_DELAY_SECONDS = 0.05


class PromptLines:
    """Writes lines to a stream and has them flushed promptly, but not one by one.

    At a terminal every line is flushed as it is written. To a pipe or a file, a daemon
    thread flushes within `FLUSH_DELAY_SECONDS` of the first line not yet flushed: a run
    of quick steps makes one `write(2)` per 50 ms instead of two per step, and a step
    that runs for long still shows its line at once. `flush` writes everything now (the
    end of a run, or before a message to stderr). A flush the thread could not make
    (the reader went away) is raised by the next `write` or `flush`, as a direct flush
    would have raised it.
    """

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.lock = threading.Lock()
        self.pending = threading.Event()
        self.thread: threading.Thread | None = None
        self.failure: BaseException | None = None
        self.closed = False  # set at exit: the thread flushes no more
        self.at_terminal = _is_terminal(stream)

    def write(self, text: str) -> None:
        self._raise_failure()
        with self.lock:
            self.stream.write(text)
        if self.at_terminal:
            self.flush()
        elif not self.pending.is_set():
            self._start_thread()
            self.pending.set()

    def flush(self) -> None:
        self._raise_failure()
        with self.lock:
            self.stream.flush()

    def _raise_failure(self) -> None:
        if self.failure is not None:
            failure, self.failure = self.failure, None
            raise failure

    def _start_thread(self) -> None:
        with self.lock:
            if self.thread is not None:
                return
            self.thread = threading.Thread(target=self._flush_soon, name="flush", daemon=True)
            self.thread.start()
        # At exit, flush once under the lock and let the thread be: Python's own shutdown
        # (when it is not skipped) must not find it in the middle of a write.
        atexit.register(self._close)

    def _close(self) -> None:
        self.closed = True
        with contextlib.suppress(OSError, ValueError):  # a failure was already reported
            self.flush()

    def _flush_soon(self) -> None:
        while not self.closed:
            self.pending.wait()
            time.sleep(FLUSH_DELAY_SECONDS)
            self.pending.clear()  # a line written from here on is flushed next time
            try:
                with self.lock:
                    if not self.closed:
                        self.stream.flush()
            except (OSError, ValueError) as exc:  # a closed pipe or stream
                self.failure = exc


def _is_terminal(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


_STDOUT_LINES: PromptLines | None = None


def stdout_lines() -> PromptLines:
    """The one `PromptLines` of this process's stdout (displays share it)."""
    global _STDOUT_LINES
    if _STDOUT_LINES is None or _STDOUT_LINES.stream is not sys.stdout:
        _STDOUT_LINES = PromptLines(sys.stdout)
    return _STDOUT_LINES


def flush_stdout() -> None:
    """Put every line written so far on stdout, before something is said on stderr."""
    with contextlib.suppress(OSError, ValueError):  # the next write reports a closed pipe
        if _STDOUT_LINES is not None:
            _STDOUT_LINES.flush()
        elif sys.stdout is not None:
            sys.stdout.flush()


def _lines_for(stream: IO[str] | None) -> PromptLines:
    return stdout_lines() if stream is None else PromptLines(stream)


class JsonLines:
    """`--output json`: every event as one JSON object per line on stdout."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.lines = _lines_for(stream)

    def __call__(self, event: Event) -> None:
        record = {"ts": event.ts, "kind": event.kind, "run_id": event.run_id}
        if event.step_id:
            record["step"] = event.step_id
        record.update({k: v for k, v in event.data.items() if k != "source"})
        self.lines.write(json.dumps(record, default=str) + "\n")
        if event.kind == "run_finished":
            self.lines.flush()


class PlainLines:
    """Line-oriented progress for logs and pipes; `quiet` keeps only the outcome."""

    def __init__(self, stream: IO[str] | None = None, quiet: bool = False) -> None:
        self.lines = _lines_for(stream)
        self.quiet = quiet

    def __call__(self, event: Event) -> None:
        finished = event.kind == "run_finished"
        if self.quiet and not finished:
            return  # nothing else is shown: not even formatted
        line = self.format(event)
        if line is not None:
            self.lines.write(line + "\n")
        if finished:
            self.lines.flush()

    def format(self, event: Event) -> str | None:
        handler = getattr(self, f"_on_{event.kind}", None)
        data = shown_data({**event.data, "run_id": event.run_id})
        return handler(printable_line(event.step_id or ""), data) if handler else None

    def _on_run_started(self, step: str, data: dict[str, Any]) -> str:
        return f"run {data.get('playbook')} {data.get('version')} ({data.get('mode')})"

    def _on_step_intent(self, step: str, data: dict[str, Any]) -> str:
        return f"→ {step}: {one_line(str(data.get('command')))}"

    def _on_output(self, step: str, data: dict[str, Any]) -> str:
        return f"    │ {data.get('line')}"

    def _on_step_retry(self, step: str, data: dict[str, Any]) -> str:
        wait = format_seconds(float(data.get("delay", 0)))
        return f"  ↻ {step}: attempt {data.get('attempt')} {data.get('status')}, retry in {wait}"

    def _on_step_result(self, step: str, data: dict[str, Any]) -> str:
        status = str(data.get("status"))
        took = format_seconds(float(data.get("duration", 0)))
        message = f" — {data['message']}" if data.get("message") else ""
        return f"{SYMBOLS.get(status, '?')} {step} {status} in {took}{message}"

    def _on_step_skipped(self, step: str, data: dict[str, Any]) -> str:
        return f"- {step} skipped ({data.get('reason')})"

    def _on_sli_sample(self, step: str, data: dict[str, Any]) -> str:
        value = data.get("value")
        shown = f" {value:g}" if isinstance(value, int | float) else ""
        why = data.get("error") or data.get("detail") or ""
        why = "" if shown.strip() == str(why).strip() else why
        return f"  ◇ SLI {data.get('phase')}: {data.get('verdict')}{shown}" + (
            f" ({why})" if why else ""
        )

    def _on_leftovers_killed(self, step: str, data: dict[str, Any]) -> str:
        return f"killed {data.get('processes')} processes run {data.get('of_run')} left running"

    def _on_lock_waited(self, step: str, data: dict[str, Any]) -> str:
        holder = data.get("holder") or {}
        return printable_line(  # the holder is nested: shown_data did not reach it
            f"… waiting for target {data.get('target')!r}, locked by run {holder.get('run_id')} "
            f"(host {holder.get('host')}, pid {holder.get('pid')})"
        )

    def _on_lock_taken(self, step: str, data: dict[str, Any]) -> str:
        epochs = data.get("epochs") or {}
        return printable_line("locked " + ", ".join(f"{t} (epoch {e})" for t, e in epochs.items()))

    def _on_rollback_started(self, step: str, data: dict[str, Any]) -> str:
        return "rolling back completed steps in reverse order"

    def _on_undo_result(self, step: str, data: dict[str, Any]) -> str:
        status = str(data.get("status"))
        message = f" — {data['message']}" if data.get("message") else ""
        return f"  ↶ undo {step}: {status}{message}"

    def _on_undo_skipped(self, step: str, data: dict[str, Any]) -> str:
        return f"  ↶ undo {step}: skipped ({data.get('reason')})"

    def _on_run_finished(self, step: str, data: dict[str, Any]) -> str:
        message = f": {data['message']}" if data.get("message") else ""
        return f"outcome: {data.get('outcome')}{message}\nrun id: {data['run_id']}"
