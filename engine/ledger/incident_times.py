"""An incident's lifecycle times and the one place their order is defined.

Five times, in lifecycle order: impact started, detected, response started, mitigated,
resolved. Each is set by a human (`runbook incident set`, `resolve`) or filled from the
record (the alerts, the runs); a human time always wins over the record's.

The order (`RULES`, each pair: the first is never after the second):

- impact started ≤ detected, response started, mitigated and resolved;
- response started ≤ mitigated and resolved;
- mitigated ≤ resolved.

Detected is not ordered against the rest: an alert can reach the engine after it was
mitigated or resolved (a server that was down), and a human may respond before it.

Human times are checked when they are set, against every time that stands: a violation
is refused (`OrderError`, exit 2) naming both times. A time from the record is applied
only if it keeps the order with the human times and the record times before it in
lifecycle order; otherwise it is left out, and `TimeOf.ignored` says why (the incident
then shows that time as not known, e.g. still open, until a human sets it).
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime

from msgspec import Struct

from engine.core.errors import UsageError

IMPACT_STARTED = "impact_started"
DETECTED = "detected"
RESPONSE_STARTED = "response_started"
MITIGATED = "mitigated"
RESOLVED = "resolved"
TIMES = (IMPACT_STARTED, DETECTED, RESPONSE_STARTED, MITIGATED, RESOLVED)
LABELS = {name: name.replace("_", " ") for name in TIMES}
RULES = (
    (IMPACT_STARTED, DETECTED),
    (IMPACT_STARTED, RESPONSE_STARTED),
    (IMPACT_STARTED, MITIGATED),
    (IMPACT_STARTED, RESOLVED),
    (RESPONSE_STARTED, MITIGATED),
    (RESPONSE_STARTED, RESOLVED),
    (MITIGATED, RESOLVED),
)
RECORD = "record"
HUMAN = "human"
# Alertmanager's "no end yet", and Go's zero time in general
_ZERO_TIME = "0001-01-01T00:00:00Z"
_FRACTION = re.compile(r"\.(\d+)")
_LEAP_SECOND = re.compile(r"([T t]\d\d:\d\d):60(?=[.Zz+-]|\Z)")


class TimeOf(Struct, frozen=True):
    """One lifecycle time: when (epoch seconds, None: not known), who said so (`record`
    or `human`), and, for a record time left out, why."""

    at: float | None = None
    source: str = ""
    ignored: str = ""


class OrderError(UsageError):
    """Times set by a human that break the lifecycle order: nothing is written (exit 2)."""


def rfc3339(at: float) -> str:
    """An epoch time as RFC 3339 in UTC, to the millisecond."""
    moment = datetime.fromtimestamp(at, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def epoch_of(text: str) -> float | None:
    """An RFC 3339 time with a zone (as Alertmanager and `runbook incident set` give it)
    in epoch seconds; None for Go's zero time, text that is not such a time, or one
    whose UTC date is outside years 1 to 9999."""
    if not text or text == _ZERO_TIME:
        return None
    trimmed = _FRACTION.sub(lambda m: "." + m.group(1)[:6], text.strip())
    # a leap second (23:59:60Z) is, as in POSIX time, the start of the next minute
    trimmed, leap = _LEAP_SECOND.subn(r"\1:59", trimmed, count=1)
    try:
        moment = datetime.fromisoformat(trimmed.replace("z", "Z"))
        # in UTC it must still be a date (years 1 to 9999), or it could not be shown
        return None if moment.tzinfo is None else moment.astimezone(UTC).timestamp() + leap
    except (ValueError, OverflowError):
        return None


def parse_time(option: str, text: str, now: float | None = None) -> float:
    """A time a human gave (`now`, or RFC 3339 with a zone); UsageError otherwise."""
    if text.strip().lower() == "now":
        return time.time() if now is None else now
    found = epoch_of(text)
    if found is None:
        raise UsageError(
            f"{option}: {text!r} is not a time",
            "give `now` or an RFC 3339 time with its zone, e.g. 2026-12-07T10:04:00Z",
        )
    return found


def breaks(times: Mapping[str, float]) -> list[tuple[str, str]]:
    """The rules `times` break: (earlier, later) pairs where the earlier is after the later."""
    return [
        (first, then)
        for first, then in RULES
        if first in times and then in times and times[first] > times[then]
    ]


def settle(human: Mapping[str, float], record: Mapping[str, float]) -> dict[str, TimeOf]:
    """Every lifecycle time as it stands: the human ones, then the record's, in lifecycle
    order, each applied only if it keeps the order with those already standing."""
    standing = {name: TimeOf(at, HUMAN) for name, at in human.items()}
    for name in TIMES:
        if name in standing or name not in record:
            continue
        known = {other: found.at for other, found in standing.items() if found.at is not None}
        broken = breaks({**known, name: record[name]})
        if broken:
            first, then = broken[0]
            other = then if first == name else first
            why = (
                f"the record's {LABELS[name]} {rfc3339(record[name])} is "
                f"{'after' if first == name else 'before'} {LABELS[other]}"
                f" {rfc3339(known[other])} ({standing[other].source}): not applied"
            )
            standing[name] = TimeOf(None, "", why)
        else:
            standing[name] = TimeOf(record[name], RECORD)
    return {name: standing.get(name, TimeOf()) for name in TIMES}


def check_human(standing: Mapping[str, TimeOf], changes: Mapping[str, float]) -> dict[str, TimeOf]:
    """The times once a human's `changes` apply over those `standing`; OrderError naming
    both times when a change breaks the order with any time that stands."""
    after = {**standing, **{name: TimeOf(at, HUMAN) for name, at in changes.items()}}
    known = {name: found.at for name, found in after.items() if found.at is not None}
    for first, then in breaks(known):
        if then in changes:
            raise OrderError(
                f"{_said(after, then)} would be before {_said(after, first)}",
                _order_hint(first, then),
            )
        if first in changes:
            raise OrderError(
                f"{_said(after, first)} would be after {_said(after, then)}",
                _order_hint(first, then),
            )
    return after


def _said(times: Mapping[str, TimeOf], name: str) -> str:
    found = times[name]
    at = rfc3339(found.at) if found.at is not None else "-"
    return f"{LABELS[name]} {at} ({found.source})"


def _order_hint(first: str, then: str) -> str:
    return (
        f"{LABELS[first]} must not be after {LABELS[then]}: correct the time, or set both"
        " in one command (runbook incident set ID"
        f" --{first.replace('_', '-')} T --{then.replace('_', '-')} T)"
    )
