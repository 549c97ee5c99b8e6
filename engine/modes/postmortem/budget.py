"""The error budget an incident spent, counted from its recorded SLI samples.

The rule: the SLI is unhealthy from each sample judged `unhealthy` to the next sample
(of any verdict), and from the last one to the incident's end where that is known; a
sample that could not be read (`unknown`) counts for nothing. Spent = that time /
(window x (1 - objective)); the burn rate = the fraction spent x window / the incident's
duration (1 spends the whole budget in exactly the window).
"""

from __future__ import annotations

from collections.abc import Sequence

from msgspec import Struct

from engine.model.playbook import Slo
from engine.modes.postmortem.story import Point

FORMULA = "spent = unhealthy time ÷ (window × (1 − objective))"
RULE = (
    "unhealthy from each unhealthy sample to the next sample, the last to the end of"
    " the impact; unreadable samples not counted"
)
BURN_FORMULA = "burn rate = fraction spent × window ÷ duration"


class Budget(Struct, frozen=True):
    """What an incident spent of its SLO's error budget (seconds; `spent` a fraction)."""

    unhealthy: float
    budget: float
    spent: float
    duration: float | None
    burn_rate: float | None


def unhealthy_seconds(points: Sequence[Point], end: float | None) -> float:
    """The time the SLI was unhealthy by the samples, under RULE."""
    ordered = sorted(points, key=lambda point: point.ts)
    total = 0.0
    for point, after in zip(ordered, [*ordered[1:], None], strict=True):
        if point.verdict != "unhealthy":
            continue
        until = after.ts if after is not None else end
        if until is not None:
            total += max(until - point.ts, 0.0)
    return total


def budget_spent(
    slo: Slo, points: Sequence[Point], end: float | None, duration: float | None
) -> Budget:
    """The budget `points` spent of `slo`; the burn rate over `duration` (None: unknown)."""
    unhealthy = unhealthy_seconds(points, end)
    budget = slo.budget_seconds
    spent = unhealthy / budget
    burn = spent * slo.window / duration if duration else None
    return Budget(unhealthy, budget, spent, duration, burn)


def percent(fraction: float) -> str:
    """A fraction as a percentage with three significant digits (12.5%, 0.0231%)."""
    value = fraction * 100
    return f"{value:.0f}%" if value >= 1000 else f"{value:.3g}%"


def minutes(seconds: float) -> str:
    """Seconds as minutes with three significant digits (43.2 min, 0.0217 min)."""
    return f"{seconds / 60:.3g} min"
