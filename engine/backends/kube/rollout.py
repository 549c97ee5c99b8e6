"""`rollout_restart` (new pods from the same template) and `rollout_undo` (a Deployment
back to an earlier ReplicaSet's template). Both capture the pod template; their undo
puts it back, which returns the workload to the captured revision."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Mapping
from typing import Any

from engine.backends.kube import fields
from engine.backends.kube.client import on_conflict
from engine.backends.kube.kinds import ROLLABLE, Kind, known
from engine.backends.kube.ops import STRATEGIC, ActionError, Done, Op, Preview, kind_of, rv, undo_op
from engine.core.results import Verdict

TEMPLATE = [["spec", "template"]]
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
REVISION = "deployment.kubernetes.io/revision"


def apply(action: str, op: Op) -> Done:
    """Restart, or roll back to `revision` (0 or absent: the previous one)."""
    kind = _rollable(op, action)
    detail = on_conflict(lambda: _change(op, kind, action))
    reason = op.body.get("reason")
    message = f"{detail} ({reason})" if reason else detail
    return Done(message, op.captured, {"detail": detail}, True)


def undo(action: str, op: Op, captured: Mapping[str, Any]) -> Done:
    """Put the captured pod template back: the workload returns to that revision."""
    target = undo_op(op, captured)
    kind = kind_of(target, captured)
    changed = fields.restore(target, kind, target.name, captured["fields"], verb="rollback")
    what = target.target(kind)
    message = f"{what} back to the captured revision" if changed else f"{what} already there"
    return Done(message, {})


def preview(action: str, op: Op) -> Preview:
    """Server-side dry-run; a roll back to the template already running is a no-op."""
    kind = _rollable(op, action)
    current = op.read(kind, op.name)
    if action == "rollout_undo" and _previous_template(op, current) == _template(current):
        return Preview(Verdict.NO_OP, "the target revision is already running")
    _change(op, kind, action)
    return Preview(Verdict.WOULD_CHANGE, "server-side dry-run accepted the change")


def _change(op: Op, kind: Kind, action: str) -> str:
    current = op.read(kind, op.name)
    op.captured.update(op.identity(kind), fields=fields.snapshot(current, TEMPLATE))
    if action == "rollout_restart":
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        annotations = {"annotations": {RESTARTED_AT: now}}
        patch = {"metadata": {"resourceVersion": rv(current)}}
        patch["spec"] = {"template": {"metadata": annotations}}  # type: ignore[dict-item]
        op.write("PATCH", kind, op.name, patch, verb="restart", content_type=STRATEGIC)
        return f"restarted {op.target(kind)}"
    wanted = _previous_template(op, current)
    updated = copy.deepcopy(current)
    updated["spec"]["template"] = wanted
    op.write("PUT", kind, op.name, updated, verb="rollback")
    return f"rolled {op.target(kind)} back to an earlier revision"


def _previous_template(op: Op, deployment: dict[str, Any]) -> dict[str, Any]:
    """The pod template of the wanted earlier ReplicaSet (without its pod-template-hash)."""
    revisions = _revisions(op, deployment)
    current = int(deployment.get("metadata", {}).get("annotations", {}).get(REVISION, 0) or 0)
    wanted = int(op.body.get("revision") or 0)
    older = [r for r in revisions if (r == wanted if wanted else r < current)]
    if not older:
        which = f"revision {wanted}" if wanted else "an earlier revision"
        raise ActionError(f"Deployment {op.namespace}/{op.name} has no {which} to roll back to")
    template = copy.deepcopy(revisions[max(older)]["spec"]["template"])
    template.get("metadata", {}).get("labels", {}).pop("pod-template-hash", None)
    return dict(template)


def _revisions(op: Op, deployment: dict[str, Any]) -> dict[int, dict[str, Any]]:
    labels = deployment.get("spec", {}).get("selector", {}).get("matchLabels", {})
    selector = ",".join(f"{k}={v}" for k, v in labels.items())
    replica_sets = known("ReplicaSet")
    assert replica_sets is not None
    found = op.client.call(
        "GET", replica_sets.path(op.namespace), op.deadline, verb="list",
        target=f"ReplicaSets of {op.namespace}/{op.name}", query={"labelSelector": selector},
    )  # fmt: skip
    uid = deployment.get("metadata", {}).get("uid")
    return {
        int(rs["metadata"].get("annotations", {}).get(REVISION, 0)): rs
        for rs in found.get("items", [])
        if any(o.get("uid") == uid for o in rs["metadata"].get("ownerReferences", []))
    }


def _template(obj: Mapping[str, Any]) -> Any:
    return obj.get("spec", {}).get("template")


def _rollable(op: Op, action: str) -> Kind:
    kind = op.kind()
    allowed = ROLLABLE if action == "rollout_restart" else frozenset({"Deployment"})
    if kind.kind not in allowed:
        raise ActionError(f"{action} works on {', '.join(sorted(allowed))}, not {kind.kind}")
    return kind
