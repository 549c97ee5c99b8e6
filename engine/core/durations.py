"""Durations written as `500ms`, `30s`, `5m`, `1h`."""

from __future__ import annotations

import re

# At most 9 digits each side of the point: every duration is a finite number of seconds.
_DURATION = re.compile(r"([0-9]{1,9}(?:\.[0-9]{1,9})?)(ms|s|m|h)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """Return seconds for a duration string; raise ValueError with a hint otherwise."""
    match = _DURATION.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"{text!r} is not a duration — use e.g. 500ms, 30s, 5m or 1h")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


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
