"""`scale`: set the replicas of a Deployment, StatefulSet or ReplicaSet (undo: the
previous count). Reads and writes the `scale` subresource with its resourceVersion."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.backends.kube.client import on_conflict
from engine.backends.kube.kinds import SCALABLE, Kind
from engine.backends.kube.ops import ActionError, Done, Op, Preview, kind_of, undo_op
from engine.core.results import Verdict


def apply(action: str, op: Op) -> Done:
    """Scale to `replicas`; captures the count it found first."""
    kind = _scalable(op)
    before, changed = set_replicas(op, kind, op.name, replicas_of(op.body), capture=True)
    return _done(op, kind, before, replicas_of(op.body), changed, op.captured)


def undo(action: str, op: Op, captured: Mapping[str, Any]) -> Done:
    """Back to the captured count."""
    target = undo_op(op, captured)
    kind = kind_of(target, captured)
    wanted = int(captured["replicas"])
    before, changed = set_replicas(target, kind, target.name, wanted)
    return _done(target, kind, before, wanted, changed, {})


def preview(action: str, op: Op) -> Preview:
    """No-op when the count is already right; else a server-side dry-run of the change."""
    kind = _scalable(op)
    wanted = replicas_of(op.body)
    before, changed = set_replicas(op, kind, op.name, wanted)
    if not changed:
        return Preview(Verdict.NO_OP, f"already at {wanted} replicas")
    return Preview(Verdict.WOULD_CHANGE, f"{before} → {wanted} replicas (server-side dry-run)")


def set_replicas(
    op: Op, kind: Kind, name: str, wanted: int, capture: bool = False
) -> tuple[int, bool]:
    """(replicas before, whether it changed); 409 → re-read and re-apply. With
    `capture`, the count read is recorded as undo state before anything is written."""

    def attempt() -> tuple[int, bool]:
        scale = op.read(kind, name, "scale")
        before = int(scale.get("spec", {}).get("replicas") or 0)
        if capture:
            op.captured.update(op.identity(kind), replicas=before)
        if before == wanted:
            return before, False
        scale.setdefault("spec", {})["replicas"] = wanted
        op.write("PUT", kind, name, scale, verb="scale", sub="scale")
        return before, True

    return on_conflict(attempt)


def replicas_of(body: Mapping[str, Any]) -> int:
    """The wanted replica count (rendered: a template may give a string)."""
    raw = body.get("replicas")
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise ActionError(f"replicas must be a whole number, not {raw!r}") from None
    if value < 0:
        raise ActionError(f"replicas must not be negative ({value})")
    return value


def _scalable(op: Op) -> Kind:
    kind = op.kind()
    if kind.kind not in SCALABLE:
        raise ActionError(f"{kind.kind} cannot be scaled (one of: {', '.join(sorted(SCALABLE))})")
    return kind


def _done(
    op: Op, kind: Kind, before: int, wanted: int, changed: bool, captured: dict[str, Any]
) -> Done:
    what = op.target(kind)
    message = (
        f"scaled {what} from {before} to {wanted}" if changed else f"{what} already at {wanted}"
    )
    return Done(message, captured, {"replicas": wanted, "previous": before}, changed)
