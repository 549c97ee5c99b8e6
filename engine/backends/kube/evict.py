"""Evicting a node's pods for `drain`: the Eviction API (policy/v1 where served, else
policy/v1beta1 as on Kubernetes 1.20), which answers 429 while a PodDisruptionBudget
forbids the disruption: then it waits and asks again until the deadline."""

from __future__ import annotations

from typing import Any

from engine.backends.kube import kinds
from engine.backends.kube.client import KubeError
from engine.backends.kube.ops import ActionError, Op

POD = kinds.KINDS["pod"]
MIRROR = "kubernetes.io/config.mirror"
PDB_WAIT = 1.0  # between eviction attempts a budget refused
GONE_POLL = 0.5


def pod_name(pod: dict[str, Any]) -> str:
    """namespace/name of a pod."""
    meta = pod.get("metadata", {})
    return f"{meta.get('namespace')}/{meta.get('name')}"


def evictable(op: Op, node: str) -> list[dict[str, Any]]:
    """The node's pods a drain evicts; ActionError when one has no controller."""
    found = op.client.call(
        "GET", "/api/v1/pods", op.deadline, verb="list", target=f"pods on node {node}",
        query={"fieldSelector": f"spec.nodeName={node}"},
    )  # fmt: skip
    pods = [p for p in found.get("items", []) if not _skipped(p)]
    orphans = [pod_name(p) for p in pods if not _controller(p)]
    if orphans:
        raise ActionError(
            f"drain {node}: pods without a controller would be lost for good: "
            f"{', '.join(orphans)}; delete them with a `delete` step first"
        )
    return pods


def _skipped(pod: dict[str, Any]) -> bool:
    meta = pod.get("metadata", {})
    if meta.get("deletionTimestamp") or MIRROR in (meta.get("annotations") or {}):
        return True
    return _controller(pod) == "DaemonSet"


def _controller(pod: dict[str, Any]) -> str:
    owners = pod.get("metadata", {}).get("ownerReferences") or []
    return next((str(o.get("kind")) for o in owners if o.get("controller")), "")


def evict(op: Op, pod: dict[str, Any]) -> None:
    """Ask for the eviction until a PodDisruptionBudget allows it or the deadline passes."""
    meta = pod["metadata"]
    path = POD.path(meta["namespace"], meta["name"], "eviction")
    body = _eviction(op, meta)
    while True:
        try:
            op.client.call(
                "POST", path, op.deadline, verb="evict", target=f"Pod {pod_name(pod)}",
                body=body, retry=False,
            )  # fmt: skip
            return
        except KubeError as exc:
            if exc.status == 404:
                return
            if _namespace_terminating(exc):
                return _delete(op, path.removesuffix("/eviction"), pod)
            if exc.status != 429 or not op.deadline.sleep(PDB_WAIT):
                raise


def _namespace_terminating(exc: KubeError) -> bool:
    """Evictions are refused in a namespace being deleted: its pods go anyway (as
    `kubectl drain` does, such a pod is deleted instead)."""
    causes = exc.body.get("details", {}).get("causes") or []
    terminating = any(c.get("type") == "NamespaceTerminating" for c in causes)
    return exc.status == 403 and (terminating or "being terminated" in str(exc))


def _delete(op: Op, path: str, pod: dict[str, Any]) -> None:
    body: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1"}
    if op.body.get("grace_period") is not None:
        body["gracePeriodSeconds"] = int(op.body["grace_period"])
    try:
        op.client.call("DELETE", path, op.deadline, verb="delete", target=f"Pod {pod_name(pod)}",
                       body=body)  # fmt: skip
    except KubeError as exc:
        if exc.status != 404:
            raise


def _eviction(op: Op, meta: dict[str, Any]) -> dict[str, Any]:
    versions = kinds.group_versions(op.client, "policy", op.deadline)
    version = "v1" if "v1" in versions else "v1beta1"
    body: dict[str, Any] = {
        "apiVersion": f"policy/{version}",
        "kind": "Eviction",
        "metadata": {"name": meta["name"], "namespace": meta["namespace"]},
    }
    grace = op.body.get("grace_period")
    if grace is not None:
        body["deleteOptions"] = {"gracePeriodSeconds": int(grace)}
    return body


def wait_gone(op: Op, pods: list[dict[str, Any]]) -> None:
    """Until every evicted pod is gone (or replaced by a pod of another UID)."""
    waiting = list(pods)
    while waiting:
        waiting = [p for p in waiting if _still_there(op, p)]
        if waiting and not op.deadline.sleep(GONE_POLL):
            names = ", ".join(pod_name(p) for p in waiting)
            raise ActionError(f"evicted pods still terminating at the deadline: {names}", True)


def _still_there(op: Op, pod: dict[str, Any]) -> bool:
    meta = pod["metadata"]
    try:
        found = op.client.call(
            "GET", POD.path(meta["namespace"], meta["name"]), op.deadline,
            verb="get", target=f"Pod {pod_name(pod)}",
        )  # fmt: skip
    except KubeError as exc:
        if exc.status == 404:
            return False
        raise
    return bool(found.get("metadata", {}).get("uid") == meta.get("uid"))
