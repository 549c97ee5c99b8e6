"""A stand-in kubelet for the real control plane of the tests (kwok-style): registers
Ready nodes, marks every pod the real scheduler bound to one of them Running and
Ready, and finalizes deleted pods (without a kubelet they would stay Terminating).

    python tests/stand_in_kubelet.py KUBECONFIG CONTEXT node-1,node-2

It talks to the API through the engine's own client (JSON in, JSON out) and polls;
a cluster of a few test pods needs nothing smarter.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.backends.kube.client import Deadline, KubeClient, KubeError
from engine.backends.kube.config import Binding
from engine.backends.kube.session import connect

MERGE = "application/merge-patch+json"
NOT_READY_TAINT = "node.kubernetes.io/not-ready"


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def call(kube: KubeClient, method: str, path: str, body: Any = None, **kw: Any) -> Any:
    return kube.call(method, path, Deadline.after(10), verb=method, target=path, body=body, **kw)


def ensure_node(kube: KubeClient, name: str) -> None:
    labels = {"kubernetes.io/hostname": name}
    try:
        call(kube, "POST", "/api/v1/nodes", {"metadata": {"name": name, "labels": labels}})
    except KubeError as exc:
        if exc.status != 409:
            raise
    node = call(kube, "GET", f"/api/v1/nodes/{name}")
    taints = [t for t in node["spec"].get("taints", []) if t["key"] != NOT_READY_TAINT]
    if taints != node["spec"].get("taints", []):
        patch = {"spec": {"taints": taints or None}}
        call(kube, "PATCH", f"/api/v1/nodes/{name}", patch, content_type=MERGE)
    call(kube, "PATCH", f"/api/v1/nodes/{name}/status", node_status(), content_type=MERGE)


def node_status() -> dict[str, Any]:
    ready = {"type": "Ready", "status": "True", "reason": "KubeletReady",
             "message": "stand-in kubelet", "lastHeartbeatTime": now(),
             "lastTransitionTime": now()}  # fmt: skip
    resources = {"cpu": "8", "memory": "32Gi", "pods": "110"}
    info = {"kubeletVersion": "v1.20.2", "kubeProxyVersion": "v1.20.2", "osImage": "stand-in",
            "kernelVersion": "stand-in", "containerRuntimeVersion": "stand-in://1",
            "operatingSystem": "linux", "architecture": "amd64", "machineID": "",
            "systemUUID": "", "bootID": ""}  # fmt: skip
    status = {"conditions": [ready], "capacity": resources, "allocatable": resources}
    return {"status": {**status, "nodeInfo": info}}


def pod_status(pod: dict[str, Any]) -> dict[str, Any]:
    containers = [
        {"name": c["name"], "image": c["image"], "imageID": "", "ready": True,
         "restartCount": 0, "started": True, "state": {"running": {"startedAt": now()}}}
        for c in pod["spec"]["containers"]
    ]  # fmt: skip
    conditions = [
        {"type": kind, "status": "True", "lastTransitionTime": now()}
        for kind in ("Initialized", "Ready", "ContainersReady", "PodScheduled")
    ]
    status = {"phase": "Running", "conditions": conditions, "hostIP": "10.0.0.1",
              "podIP": "10.244.0.10", "startTime": now()}  # fmt: skip
    return {"status": {**status, "containerStatuses": containers}}


def tend(kube: KubeClient, nodes: list[str]) -> None:
    """One pass over all pods: finalize the deleted, start the newly bound."""
    for pod in call(kube, "GET", "/api/v1/pods").get("items", []):
        meta, path = pod["metadata"], f"/api/v1/namespaces/{pod['metadata']['namespace']}"
        path += f"/pods/{meta['name']}"
        try:
            if meta.get("deletionTimestamp"):
                body = {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0}
                call(kube, "DELETE", path, body)
            elif pod["spec"].get("nodeName") in nodes and pod["status"].get("phase") == "Pending":
                call(kube, "PATCH", f"{path}/status", pod_status(pod), content_type=MERGE)
        except KubeError as exc:
            if exc.status not in (404, 409):
                print("error:", exc, flush=True)


def main() -> None:
    kubeconfig, context, names = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
    kube = connect(Binding(kubeconfig, context, True))
    for name in names:
        ensure_node(kube, name)
    print("stand-in kubelet ready:", ",".join(names), flush=True)
    beat = time.monotonic()
    while True:
        tend(kube, names)
        if time.monotonic() - beat > 20:
            for name in names:
                ensure_node(kube, name)
            beat = time.monotonic()
        time.sleep(0.2)


if __name__ == "__main__":
    main()
