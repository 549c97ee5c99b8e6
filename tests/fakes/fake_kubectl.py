"""A fake `kubectl` for the cluster inside the fake minikube profile.

Why a fake: the objects of a minikube cluster live in the VM that the "Docker VM
wiped" playbook is about; the backup and restore shell steps of the shipped playbooks
drive the `kubectl` CLI, and what matters to them is the CLI's contract, reproduced
here from the state file (state["kube"][<context>] = list of objects):

* `--context C get KIND[,KIND…] [-n NS] [--field-selector metadata.name=X] -o json`:
  a `List`, with the server-set fields a real API server adds (uid, resourceVersion,
  creationTimestamp, managedFields, status) — so a backup that does not strip them
  cannot be restored;
* `--context C apply -f FILE`: objects (or a List) stored; an object that still carries
  `metadata.resourceVersion` or `uid` is refused as the API server refuses it;
* `--context C get namespace NAME` / `get --raw=/readyz`: exit 1 with kubectl's
  message when the namespace is missing or the profile's API server is down.

A deleted profile (fake minikube `delete`) takes its objects with it: a wiped VM.
"""

from __future__ import annotations

import json
import sys
import uuid
from typing import Any

import fakestate

PLURALS = {
    "namespaces": "Namespace", "namespace": "Namespace", "configmaps": "ConfigMap",
    "secrets": "Secret", "serviceaccounts": "ServiceAccount", "services": "Service",
    "persistentvolumeclaims": "PersistentVolumeClaim", "deployments": "Deployment",
    "statefulsets": "StatefulSet", "daemonsets": "DaemonSet", "cronjobs": "CronJob",
    "ingresses": "Ingress",
}  # fmt: skip
SERVER_FIELDS = ("uid", "resourceVersion", "creationTimestamp", "managedFields")


def flag(argv: list[str], *names: str) -> str | None:
    for i, arg in enumerate(argv):
        for name in names:
            if arg == name and i + 1 < len(argv):
                return argv[i + 1]
            if arg.startswith(name + "="):
                return arg.split("=", 1)[1]
    return None


def served(obj: dict[str, Any]) -> dict[str, Any]:
    """The object as an API server returns it: with the fields it sets itself."""
    out = json.loads(json.dumps(obj))
    meta = out.setdefault("metadata", {})
    meta.setdefault("uid", str(uuid.uuid4()))
    meta.setdefault("resourceVersion", "1")
    meta.setdefault("creationTimestamp", "2024-01-01T00:00:00Z")
    meta.setdefault("managedFields", [{"manager": "kubectl", "operation": "Update"}])
    out.setdefault("status", {})
    return out


def api_up(state: dict[str, Any], context: str) -> bool:
    profile = state["minikube"]["profiles"].get(context) or {}
    return profile.get("status") == "Running" and profile.get("apiserver", "Running") == "Running"


def in_namespace(obj: dict[str, Any], namespace: str | None) -> bool:
    return (
        namespace is None
        or obj["kind"] == "Namespace"
        or obj["metadata"].get("namespace") == namespace
    )


def key_of(obj: dict[str, Any]) -> tuple[str, str | None, str]:
    return obj["kind"], obj["metadata"].get("namespace"), obj["metadata"]["name"]


def get(state: dict[str, Any], context: str, argv: list[str]) -> tuple[int, str, str]:
    kinds = {PLURALS.get(k, k) for k in argv[argv.index("get") + 1].split(",")}
    namespace = flag(argv, "-n", "--namespace")
    name = flag(argv, "--field-selector")
    positional = argv[argv.index("get") + 2] if len(argv) > argv.index("get") + 2 else ""
    objects = [
        o for o in state.setdefault("kube", {}).get(context, [])
        if o["kind"] in kinds and in_namespace(o, namespace)
        and (name is None or f"metadata.name={o['metadata']['name']}" == name)
    ]  # fmt: skip
    if positional and not positional.startswith("-"):
        found = [o for o in objects if o["metadata"]["name"] == positional]
        if not found:
            kind = next(iter(kinds)).lower()
            return 1, "", f'Error from server (NotFound): {kind}s "{positional}" not found\n'
        return 0, json.dumps(found[0]), ""
    return 0, json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}), ""


def apply(state: dict[str, Any], context: str, path: str) -> tuple[int, str, str]:
    with open(path) as handle:
        document = json.load(handle)
    items = document["items"] if document.get("kind") == "List" else [document]
    store = state.setdefault("kube", {}).setdefault(context, [])
    out = []
    for item in items:
        meta = item.get("metadata", {})
        if any(key in meta for key in ("resourceVersion", "uid")):
            message = "resourceVersion should not be set on objects to be created"
            return 1, "", f"Error from server (BadRequest): creating {path!r}: {message}\n"
        store[:] = [o for o in store if key_of(o) != key_of(item)]
        store.append(served(item))
        out.append(f"{item['kind'].lower()}/{meta['name']} created")
    return 0, "\n".join(out) + "\n", ""


def run(state: dict[str, Any], argv: list[str]) -> tuple[int, str, str]:
    context = flag(argv, "--context") or "minikube"
    if not api_up(state, context):
        refused = "The connection to the server 192.168.49.2:8443 was refused"
        return 1, "", f"{refused} - did you specify the right host or port?\n"
    if any(a.startswith("--raw") for a in argv):
        return 0, "ok", ""
    if "apply" in argv:
        return apply(state, context, str(flag(argv, "-f", "--filename")))
    if "get" in argv:
        return get(state, context, argv)
    return 1, "", f"fake kubectl: unsupported command {argv}\n"


def main() -> int:
    argv = sys.argv[1:]
    fakestate.log({"tool": "kubectl", "phase": "start", "argv": argv})
    with fakestate.locked() as state:
        rc, out, err = run(state, argv)
    end = {"tool": "kubectl", "phase": "end", "argv": argv, "rc": rc, "stderr": err}
    fakestate.log({**end, "stdout": out[-2000:]})
    sys.stdout.write(out)
    sys.stderr.write(err)
    return rc


if __name__ == "__main__":
    sys.exit(main())
