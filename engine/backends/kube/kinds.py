"""Kinds and their REST paths: a table of the usual ones, discovery for the rest."""

from __future__ import annotations

from typing import Any

from msgspec import Struct

from engine.backends.kube.client import Deadline, KubeClient, KubeError


class Kind(Struct, frozen=True):
    """A resource type: `version` empty means "the group's preferred version"."""

    kind: str
    group: str
    version: str
    plural: str
    namespaced: bool = True

    @property
    def api_version(self) -> str:
        """group/version, or the version alone for the core group."""
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, namespace: str | None, name: str | None = None, sub: str = "") -> str:
        """The REST path of the collection, an object, or its subresource."""
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        if name:
            base += f"/{name}"
        return f"{base}/{sub}" if sub else base

    def describe(self, namespace: str | None, name: str | None) -> str:
        """How errors and messages name the object: `Deployment shop/web`."""
        where = f"{namespace}/" if self.namespaced and namespace else ""
        return f"{self.kind} {where}{name}" if name else f"{self.kind}s in {namespace or 'all'}"


_TABLE = (
    Kind("Pod", "", "v1", "pods"),
    Kind("Node", "", "v1", "nodes", namespaced=False),
    Kind("Namespace", "", "v1", "namespaces", namespaced=False),
    Kind("Service", "", "v1", "services"),
    Kind("ConfigMap", "", "v1", "configmaps"),
    Kind("Secret", "", "v1", "secrets"),
    Kind("ServiceAccount", "", "v1", "serviceaccounts"),
    Kind("PersistentVolumeClaim", "", "v1", "persistentvolumeclaims"),
    Kind("PersistentVolume", "", "v1", "persistentvolumes", namespaced=False),
    Kind("Event", "", "v1", "events"),
    Kind("ReplicationController", "", "v1", "replicationcontrollers"),
    Kind("Deployment", "apps", "v1", "deployments"),
    Kind("StatefulSet", "apps", "v1", "statefulsets"),
    Kind("DaemonSet", "apps", "v1", "daemonsets"),
    Kind("ReplicaSet", "apps", "v1", "replicasets"),
    Kind("Job", "batch", "v1", "jobs"),
    Kind("CronJob", "batch", "", "cronjobs"),
    Kind("PodDisruptionBudget", "policy", "", "poddisruptionbudgets"),
    Kind("HorizontalPodAutoscaler", "autoscaling", "", "horizontalpodautoscalers"),
    Kind("Ingress", "networking.k8s.io", "", "ingresses"),
    Kind("NetworkPolicy", "networking.k8s.io", "v1", "networkpolicies"),
    Kind("Role", "rbac.authorization.k8s.io", "v1", "roles"),
    Kind("RoleBinding", "rbac.authorization.k8s.io", "v1", "rolebindings"),
)
KINDS = {k.kind.lower(): k for k in _TABLE}
SCALABLE = frozenset({"Deployment", "StatefulSet", "ReplicaSet", "ReplicationController"})
ROLLABLE = frozenset({"Deployment", "StatefulSet", "DaemonSet"})


def known(kind: str) -> Kind | None:
    """The table entry for `kind` (case-insensitive), or None."""
    return KINDS.get(kind.lower())


def resolve(client: KubeClient, kind: str, deadline: Deadline, api_version: str = "") -> Kind:
    """A usable Kind: from the table when it matches, else from the API's discovery."""
    entry = known(kind)
    if entry is not None and (not api_version or _matches(entry, api_version)):
        return entry if entry.version else _preferred(client, entry, deadline)
    if not api_version:
        raise KubeError("discover", f"kind {kind}", None, "unknown kind; give its apiVersion")
    return _discover(client, kind, api_version, deadline)


def _matches(entry: Kind, api_version: str) -> bool:
    group = api_version.rpartition("/")[0]
    return group == entry.group and (not entry.version or api_version == entry.api_version)


def _preferred(client: KubeClient, entry: Kind, deadline: Deadline) -> Kind:
    key = f"group:{entry.group}"
    if key not in client.cache:
        found = client.call("GET", f"/apis/{entry.group}", deadline, verb="discover", target=key)
        client.cache[key] = found.get("preferredVersion", {}).get("version", "")
    version = str(client.cache[key])
    return Kind(entry.kind, entry.group, version, entry.plural, entry.namespaced)


def group_versions(client: KubeClient, group: str, deadline: Deadline) -> list[str]:
    """The versions the server serves for `group` (e.g. policy: v1beta1 on 1.20)."""
    key = f"versions:{group}"
    if key not in client.cache:
        found = client.call("GET", f"/apis/{group}", deadline, verb="discover", target=group)
        client.cache[key] = [v.get("version", "") for v in found.get("versions", [])]
    return list(client.cache[key])


def _discover(client: KubeClient, kind: str, api_version: str, deadline: Deadline) -> Kind:
    group, _, version = api_version.rpartition("/")
    path = f"/apis/{api_version}" if group else f"/api/{version}"
    found: dict[str, Any] = client.call("GET", path, deadline, verb="discover", target=api_version)
    for resource in found.get("resources", []):
        if resource.get("kind") == kind and "/" not in resource.get("name", ""):
            return Kind(kind, group, version, resource["name"], bool(resource.get("namespaced")))
    raise KubeError("discover", f"{kind} in {api_version}", 404, "the server has no such kind")
