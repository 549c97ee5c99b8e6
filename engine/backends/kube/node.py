"""`cordon`, `uncordon` (each the other's undo) and `drain`: cordon, then evict every
pod (PodDisruptionBudgets respected through the Eviction API; DaemonSet and mirror
pods skipped; pods no controller would recreate refused); undo: the previous
schedulability."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.backends.kube import evict
from engine.backends.kube.client import on_conflict
from engine.backends.kube.kinds import Kind
from engine.backends.kube.ops import MERGE, ActionError, Done, Op, Preview, kind_of, rv, undo_op
from engine.core.results import Verdict


def apply(action: str, op: Op) -> Done:
    """Cordon, uncordon or drain the node `name`."""
    kind = _node(op)
    if action == "drain":
        return _drain(op, kind)
    wanted = action == "cordon"
    _, changed = set_unschedulable(op, kind, op.name, wanted, capture=True)
    return _done(op.name, action, changed, op.captured)


def undo(action: str, op: Op, captured: Mapping[str, Any]) -> Done:
    """Put the node's schedulability back as it was."""
    target = undo_op(op, captured)
    wanted = bool(captured["unschedulable"])
    _, changed = set_unschedulable(target, kind_of(target, captured), target.name, wanted)
    return _done(target.name, "cordon" if wanted else "uncordon", changed, {})


def preview(action: str, op: Op) -> Preview:
    """Server-side dry-run of the cordon; for a drain also the pods it would evict."""
    kind = _node(op)
    _, changed = set_unschedulable(op, kind, op.name, action != "uncordon")
    pods = evict.evictable(op, op.name) if action == "drain" else []
    if not changed and not pods:
        return Preview(Verdict.NO_OP, f"node {op.name} is already {_state(action != 'uncordon')}")
    names = ", ".join(evict.pod_name(p) for p in pods) or "no pods"
    note = f"would evict {len(pods)} pod(s): {names}" if action == "drain" else ""
    return Preview(Verdict.WOULD_CHANGE, note or "server-side dry-run accepted")


def set_unschedulable(
    op: Op, kind: Kind, name: str, wanted: bool, capture: bool = False
) -> tuple[bool, bool]:
    """(unschedulable before, whether it changed); `capture` records the undo state."""

    def attempt() -> tuple[bool, bool]:
        node = op.read(kind, name)
        before = bool(node.get("spec", {}).get("unschedulable"))
        if capture:
            op.captured.update(op.identity(kind), unschedulable=before)
        if before == wanted:
            return before, False
        patch = {"metadata": {"resourceVersion": rv(node)}, "spec": {"unschedulable": wanted}}
        verb = "cordon" if wanted else "uncordon"
        op.write("PATCH", kind, name, patch, verb=verb, content_type=MERGE)
        return before, True

    return on_conflict(attempt)


def _drain(op: Op, kind: Kind) -> Done:
    evict.evictable(op, op.name)  # refuses unmanaged pods before anything changes
    set_unschedulable(op, kind, op.name, True, capture=True)
    pods = evict.evictable(op, op.name)
    for pod in pods:
        evict.evict(op, pod)
    evict.wait_gone(op, pods)
    names = [evict.pod_name(p) for p in pods]
    message = f"drained node {op.name}: evicted {len(pods)} pod(s)"
    return Done(message, op.captured, {"evicted": names}, True, "\n".join(names))


def _node(op: Op) -> Kind:
    kind = op.kind("Node")
    if kind.kind != "Node":
        raise ActionError(f"cordon, uncordon and drain act on a Node, not a {kind.kind}")
    return kind


def _state(unschedulable: bool) -> str:
    return "cordoned" if unschedulable else "schedulable"


def _done(name: str, action: str, changed: bool, captured: dict[str, Any]) -> Done:
    state = _state(action in ("cordon", "drain"))
    message = f"node {name} {state}" if changed else f"node {name} was already {state}"
    return Done(message, captured, {"node": name, "state": state}, changed)
