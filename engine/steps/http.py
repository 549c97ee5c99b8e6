"""`http`: one HTTP request. Format published; execution in a later release."""

from __future__ import annotations

from engine.steps.declared import DeclaredSpec, DeclaredType


def _is_safe_method(spec: DeclaredSpec) -> bool:
    return str(spec.body.get("method", "GET")).upper() in {"GET", "HEAD"}


STEP = DeclaredType("http", readonly_rule=_is_safe_method)
