"""Connections: one API client per context per run (kept in the run's Resources), the
cluster's identity (the kube-system UID) and the guard on a pinned `cluster_uid`."""

from __future__ import annotations

from typing import Any

from engine.backends.kube.client import Deadline, KubeClient, KubeError
from engine.backends.kube.config import Binding, KubeConfigError
from engine.core.resources import Resources


def connect(binding: Binding) -> KubeClient:
    """A client for `binding`'s context (this is where `kubernetes` is imported)."""
    from kubernetes import client, config

    configuration = client.Configuration()
    load: Any = config.load_kube_config  # typed in some client versions, not in others
    try:
        load(
            config_file=binding.kubeconfig,
            context=binding.context,
            client_configuration=configuration,
            persist_config=False,
        )
    except (config.ConfigException, OSError, ValueError) as exc:
        raise KubeConfigError(f"cannot use context {binding.context!r}: {exc}") from None
    return KubeClient(client.ApiClient(configuration), binding)


def shared_client(resources: Resources, binding: Binding) -> KubeClient:
    """The run's one client for `binding`'s kubeconfig and context, made on first use and
    closed with the run's other connections (steps and the SLI probe share it)."""
    kube: KubeClient = resources.get(binding.key, lambda: connect(binding), _close)
    return kube


def client_for(resources: Resources, binding: Binding, deadline: Deadline) -> KubeClient:
    """The run's client for this context. Its first use reads the cluster's UID (recorded
    with undo state) and refuses a context that points away from a pinned cluster_uid."""
    kube = shared_client(resources, binding)
    if kube.uid is None:
        kube.uid = _read_uid(kube, deadline)
    if binding.cluster_uid:
        same_cluster(kube, binding.cluster_uid, "the pinned cluster_uid")
    return kube


def _read_uid(kube: KubeClient, deadline: Deadline) -> str:
    try:
        return kube.cluster_uid(deadline)
    except KubeError as exc:
        if exc.status in (401, 403, 404):
            return ""  # not allowed to read kube-system: the cluster stays anonymous
        raise


def same_cluster(kube: KubeClient, expected: str, what: str) -> None:
    """KubeConfigError unless the client's cluster has the `expected` kube-system UID."""
    if kube.uid != expected:
        raise KubeConfigError(
            f"context {kube.binding.context!r} points at the cluster whose kube-system UID is "
            f"{kube.uid or 'unknown'}, not {what} {expected}",
            "check the context; `kubectl get namespace kube-system -o jsonpath={.metadata.uid}`",
        )


def _close(kube: Any) -> None:
    kube.close()
