"""Durations written as `500ms`, `30s`, `5m`, `1h`; periods of history also as `30d`, `2w`."""

from __future__ import annotations

import re

# At most 9 digits each side of the point: every duration is a finite number of seconds.
_DURATION = re.compile(r"([0-9]{1,9}(?:\.[0-9]{1,9})?)(ms|s|m|h)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
# A look back over the ledger (`runbook toil --since`) is counted in days and weeks too.
_PERIOD = re.compile(r"([0-9]{1,9}(?:\.[0-9]{1,9})?)(ms|s|m|h|d|w)")
_PERIOD_UNIT_SECONDS = {**_UNIT_SECONDS, "d": 86400.0, "w": 604800.0}


def parse_duration(text: str) -> float:
    """Return seconds for a duration string; raise ValueError with a hint otherwise."""
    match = _DURATION.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"{text!r} is not a duration — use e.g. 500ms, 30s, 5m or 1h")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def parse_period(text: str) -> float:
    """Seconds for a period of history: a duration, or days (`30d`) or weeks (`2w`);
    ValueError with a hint otherwise, and for a period of zero."""
    match = _PERIOD.fullmatch(text) if isinstance(text, str) else None
    seconds = float(match.group(1)) * _PERIOD_UNIT_SECONDS[match.group(2)] if match else 0.0
    if seconds <= 0:
        raise ValueError(f"{text!r} is not a period — use e.g. 12h, 30d or 2w")
    return seconds


def is_duration(text: object) -> bool:
    return isinstance(text, str) and _DURATION.fullmatch(text) is not None


def format_seconds(seconds: float) -> str:
    """Human-readable elapsed time: 12ms, 3.4s, 2m05s."""
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s"
