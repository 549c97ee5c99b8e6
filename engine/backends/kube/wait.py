"""`wait`: until a condition holds, within the step's deadline. Lists, then watches
from that list's resourceVersion; a watch that gets 410 Gone re-lists.

Conditions: `deleted`; `rolled_out` (Deployment / StatefulSet / DaemonSet rollout
complete); else a status condition: `Available`, `Ready`, `condition=Ready`,
`DiskPressure=False` (status defaults to True)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.backends.kube.client import KubeError
from engine.backends.kube.kinds import Kind
from engine.backends.kube.ops import ActionError, Done, Op, Preview, dig
from engine.core.results import Verdict

WATCH_SECONDS = 60


def apply(action: str, op: Op) -> Done:
    """Return once the condition holds; ActionError (timed out) at the deadline."""
    kind, condition = op.kind(), str(op.body.get("condition") or "")
    objects: dict[str, dict[str, Any]] = {}
    version = _list(op, kind, objects)  # at least one look, however short the deadline
    while not holds(condition, kind, objects.values()):
        if _over(op) or _watch(op, kind, condition, objects, version):
            break
        version = "" if _over(op) else _list(op, kind, objects)
    if holds(condition, kind, objects.values()):
        return _done(op, kind, condition)
    what = op.target(kind, op.name or None)
    raise ActionError(f"{what}: {condition!r} did not hold by the deadline", timed_out=True)


def _over(op: Op) -> bool:
    return op.deadline.remaining() <= 0 or op.deadline.cancel.is_set()


def undo(action: str, op: Op, captured: Mapping[str, Any]) -> Done:
    """Read-only: nothing to undo."""
    return Done("wait is read-only: nothing to undo")


def preview(action: str, op: Op) -> Preview:
    """Read-only: always a no-op."""
    return Preview(Verdict.NO_OP, "read-only")


def _done(op: Op, kind: Kind, condition: str) -> Done:
    return Done(f"{op.target(kind, op.name or None)}: {condition}", {}, True, False)


def _query(op: Op) -> dict[str, Any]:
    if op.name:
        return {"fieldSelector": f"metadata.name={op.name}"}
    return {"labelSelector": str(op.body["selector"])} if op.body.get("selector") else {}


def _list(op: Op, kind: Kind, objects: dict[str, dict[str, Any]]) -> str:
    found = op.client.call(
        "GET", kind.path(op.namespace), op.deadline, verb="list",
        target=op.target(kind, op.name or None), query=_query(op),
    )  # fmt: skip
    objects.clear()
    objects.update({item["metadata"]["name"]: item for item in found.get("items", [])})
    return str(found.get("metadata", {}).get("resourceVersion", ""))


def _watch(
    op: Op, kind: Kind, condition: str, objects: dict[str, dict[str, Any]], version: str
) -> bool:
    """Follow changes until the condition holds (True), or the watch ends or expires."""
    seconds = max(1, min(WATCH_SECONDS, int(op.deadline.remaining())))
    query = {**_query(op), "watch": "1", "resourceVersion": version, "timeoutSeconds": seconds}
    try:
        for event in op.client.stream(kind.path(op.namespace), query, op.deadline):
            if event.get("type") == "ERROR":
                return _expired(event.get("object", {}))
            obj = event.get("object", {})
            name = obj.get("metadata", {}).get("name", "")
            if event.get("type") == "DELETED":
                objects.pop(name, None)
            elif event.get("type") in ("ADDED", "MODIFIED"):
                objects[name] = obj
            if holds(condition, kind, objects.values()):
                return True
    except KubeError as exc:
        if exc.status != 410:
            raise
    return False


def _expired(status: Mapping[str, Any]) -> bool:
    """An ERROR event: 410 Gone means "re-list"; anything else is a failure."""
    if status.get("code") == 410:
        return False
    raise KubeError("watch", "objects", status.get("code"), str(status.get("message", "")))


def holds(condition: str, kind: Kind, objects: Any) -> bool:
    """Whether `condition` holds for all the objects (and there is at least one)."""
    items = list(objects)
    if condition == "deleted":
        return not items
    if not condition:
        raise ActionError("wait needs a condition")
    return bool(items) and all(_holds(condition, kind, obj) for obj in items)


def _holds(condition: str, kind: Kind, obj: Mapping[str, Any]) -> bool:
    if condition in ("rolled_out", "rollout"):
        return rolled_out(kind, obj)
    wanted_type, _, wanted = condition.removeprefix("condition=").partition("=")
    for entry in dig(obj, "status.conditions") or []:
        if entry.get("type") == wanted_type:
            return str(entry.get("status")) == (wanted or "True")
    return False


def rolled_out(kind: Kind, obj: Mapping[str, Any]) -> bool:
    """As `kubectl rollout status`: the controller saw the latest spec and every replica
    is updated and available."""
    status, spec = obj.get("status") or {}, obj.get("spec") or {}
    if status.get("observedGeneration", 0) < obj.get("metadata", {}).get("generation", 0):
        return False
    if kind.kind == "DaemonSet":
        desired = status.get("desiredNumberScheduled", 0)
        updated = status.get("updatedNumberScheduled", 0)
        return bool(updated == desired and status.get("numberAvailable", 0) == desired)
    wanted = spec.get("replicas", 1)
    if kind.kind == "StatefulSet":
        same = status.get("currentRevision") == status.get("updateRevision")
        return bool(same and status.get("readyReplicas", 0) == wanted)
    counts = (status.get(k, 0) for k in ("updatedReplicas", "availableReplicas", "replicas"))
    return all(count == wanted for count in counts)
