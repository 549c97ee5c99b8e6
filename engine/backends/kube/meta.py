"""`label` and `annotate`: set (or, with null, remove) labels or annotations; undo puts
back the previous value of each key (removing keys that were absent)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.backends.kube.client import on_conflict
from engine.backends.kube.kinds import Kind
from engine.backends.kube.ops import MERGE, ActionError, Done, Op, Preview, kind_of, rv, undo_op
from engine.core.results import Verdict

FIELDS = {"label": "labels", "annotate": "annotations"}


def apply(action: str, op: Op) -> Done:
    """Set the keys; captures their previous values."""
    kind, field, wanted = op.kind(), FIELDS[action], _wanted(action, op.body)
    _, changed = set_keys(op, kind, field, wanted, capture=True)
    return _done(op, kind, field, changed, op.captured)


def undo(action: str, op: Op, captured: Mapping[str, Any]) -> Done:
    """Restore each key's previous value."""
    target = undo_op(op, captured)
    kind, field = kind_of(target, captured), str(captured["field"])
    _, changed = set_keys(target, kind, field, dict(captured["previous"]))
    return _done(target, kind, field, changed, {})


def preview(action: str, op: Op) -> Preview:
    """No-op when every key already has its value; else a server-side dry-run."""
    _, changed = set_keys(op, op.kind(), FIELDS[action], _wanted(action, op.body))
    if not changed:
        return Preview(Verdict.NO_OP, f"the {FIELDS[action]} already have these values")
    return Preview(Verdict.WOULD_CHANGE, "server-side dry-run accepted the change")


def set_keys(
    op: Op, kind: Kind, field: str, wanted: Mapping[str, str | None], capture: bool = False
) -> tuple[dict[str, str | None], bool]:
    """(previous value of each key, whether anything changed); None = absent."""

    def attempt() -> tuple[dict[str, str | None], bool]:
        current = op.read(kind, op.name)
        present = current.get("metadata", {}).get(field) or {}
        before = {key: present.get(key) for key in wanted}
        if capture:
            op.captured.update(op.identity(kind), field=field, previous=before)
        if before == dict(wanted):
            return before, False
        patch = {"metadata": {"resourceVersion": rv(current), field: dict(wanted)}}
        op.write("PATCH", kind, op.name, patch, verb=field[:-1], content_type=MERGE)
        return before, True

    return on_conflict(attempt)


def _wanted(action: str, body: Mapping[str, Any]) -> dict[str, str | None]:
    values = body.get(FIELDS[action])
    if not isinstance(values, Mapping) or not values:
        raise ActionError(f"`{action}` needs a non-empty `{FIELDS[action]}` mapping")
    return {str(k): None if v is None else str(v) for k, v in values.items()}


def _done(op: Op, kind: Kind, field: str, changed: bool, captured: dict[str, Any]) -> Done:
    what = op.target(kind)
    message = f"set {field} of {what}" if changed else f"{field} of {what} already as wanted"
    return Done(message, captured, None, changed)
