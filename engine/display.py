"""Listeners that show a run: plain lines, one JSON object per line, or quiet.

The live terminal view (`engine.live`) builds on the same events.
"""

from __future__ import annotations

import json
import sys
from typing import IO, Any

from engine.durations import format_seconds
from engine.events import Event

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


class JsonLines:
    """`--output json`: every event as one JSON object per line on stdout."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stdout

    def __call__(self, event: Event) -> None:
        record = {"ts": event.ts, "kind": event.kind, "run_id": event.run_id}
        if event.step_id:
            record["step"] = event.step_id
        record.update({k: v for k, v in event.data.items() if k != "source"})
        self.stream.write(json.dumps(record, default=str) + "\n")
        self.stream.flush()


class PlainLines:
    """Line-oriented progress for logs and pipes; `quiet` keeps only the outcome."""

    def __init__(self, stream: IO[str] | None = None, quiet: bool = False) -> None:
        self.stream = stream or sys.stdout
        self.quiet = quiet

    def __call__(self, event: Event) -> None:
        line = self.format(event)
        if line is not None and (not self.quiet or event.kind == "run_finished"):
            self.stream.write(line + "\n")
            self.stream.flush()

    def format(self, event: Event) -> str | None:
        handler = getattr(self, f"_on_{event.kind}", None)
        data = {**event.data, "run_id": event.run_id}
        return handler(event.step_id or "", data) if handler else None

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
