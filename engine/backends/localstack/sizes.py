"""Memory and disk sizes as people write them: `8g`, `8GiB`, `512mb`, `8192` (MiB).

minikube and Docker Desktop both count in binary units, whatever the suffix says
(minikube reads `8gb` as 8 GiB), so every suffix here is binary: `8GB` is 8192 MiB.
A bare number, or an integer in YAML, is MiB — the unit both tools store.
"""

from __future__ import annotations

import math
import re

# Matched on the stripped text: `\s*` on both sides of an empty unit made a run of spaces
# cost time quadratic in its length (a size may be rendered from an alert's label).
_SIZE = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)")
_UNIT_MIB = {
    "": 1.0,
    "b": 1 / 1024**2,
    "k": 1 / 1024,
    "m": 1.0,
    "g": 1024.0,
    "t": 1024.0**2,
}
SIZE_HINT = "write a size such as 8g, 8GiB, 512m or 8192 (MiB)"
_MAX_MIB = 1024**4  # 1 EiB


class SizeError(ValueError):
    """A value that is not a size."""


def _unit_factor(suffix: str) -> float:
    unit = suffix.lower()
    for tail in ("ib", "b"):
        if len(unit) > 1 and unit.endswith(tail):
            unit = unit[: -len(tail)]
            break
    if unit not in _UNIT_MIB:
        raise SizeError(f"unknown size unit {suffix!r}; {SIZE_HINT}")
    return _UNIT_MIB[unit]


def parse_mib(value: object) -> int:
    """The size in MiB, rounded up (a floor of `1.5g` is 1536 MiB, never less)."""
    if isinstance(value, bool):
        raise SizeError(f"{value!r} is not a size; {SIZE_HINT}")
    if isinstance(value, int):
        mib = float(min(value, _MAX_MIB + 1))  # an int float() cannot hold is too large
    else:
        match = _SIZE.fullmatch(str(value).strip())
        if match is None:
            raise SizeError(f"{value!r} is not a size; {SIZE_HINT}")
        number, suffix = match.groups()
        if "." in number and not suffix:
            raise SizeError(f"{value!r} has a fraction but no unit; {SIZE_HINT}")
        mib = float(number) * _unit_factor(suffix)
    if mib <= 0:
        raise SizeError(f"{value!r} is not a positive size; {SIZE_HINT}")
    if not mib <= _MAX_MIB:  # also infinity: a number of 400 digits reads as one
        raise SizeError(f"{_short(value)} is larger than any machine (1 EiB); {SIZE_HINT}")
    return math.ceil(mib)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def format_mib(mib: int | float) -> str:
    """`8192` → `8 GiB`, `1536` → `1.5 GiB`, `500` → `500 MiB`."""
    if mib >= 1024:
        gib = mib / 1024
        return f"{gib:.0f} GiB" if gib == int(gib) else f"{gib:.1f} GiB"
    return f"{mib:.0f} MiB"


def format_bytes(count: int) -> str:
    """A byte count in the same style as `format_mib`."""
    return format_mib(count / 1024**2) if count >= 1024**2 else f"{count} B"
