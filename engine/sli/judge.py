"""A probe's reading and the verdict on it."""

from __future__ import annotations

import math
import time
from enum import StrEnum

from msgspec import Struct, field

from engine.model.playbook import Healthy


class SliVerdict(StrEnum):
    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"
    UNKNOWN = "unknown"


class Reading(Struct, frozen=True):
    """What a probe saw: a number, a verdict the probe could give itself, or an error."""

    value: float | None = None
    error: str = ""
    verdict: SliVerdict | None = None  # set by probes that judge themselves (http, exit code)
    detail: str = ""

    @classmethod
    def failed(cls, error: str) -> Reading:
        return cls(error=error, verdict=SliVerdict.UNKNOWN)


class Sample(Struct, frozen=True):
    verdict: SliVerdict
    value: float | None
    error: str
    detail: str = ""
    ts: float = field(default_factory=time.time)


def judge(reading: Reading, healthy: Healthy | None) -> Sample:
    """Fail closed: an error, NaN, an infinity or a missing value is unknown, never
    healthy."""
    if reading.error:
        return Sample(SliVerdict.UNKNOWN, reading.value, reading.error, reading.detail)
    if healthy is not None and reading.value is not None:
        return _judge_value(reading, healthy)
    if reading.verdict is not None:
        return Sample(reading.verdict, reading.value, "", reading.detail)
    return Sample(SliVerdict.UNKNOWN, reading.value, "the probe gave no value to judge")


def _judge_value(reading: Reading, healthy: Healthy) -> Sample:
    value = reading.value
    assert value is not None
    if not math.isfinite(value):  # +Inf is no more a measurement than NaN is
        error = "the value is NaN" if math.isnan(value) else f"the value is {value:+}"
        return Sample(SliVerdict.UNKNOWN, None, error, reading.detail)
    verdict = SliVerdict.HEALTHY if healthy.accepts(value) else SliVerdict.UNHEALTHY
    return Sample(verdict, value, "", reading.detail)
