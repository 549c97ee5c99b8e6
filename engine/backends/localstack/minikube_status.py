"""What minikube says about a profile: `status` (JSON and exit-code bits) and the
profile's configuration (`profile list -o json`).

`minikube status` encodes its verdict in the exit code, bit by bit from the right:
1 — the host (VM or container) is not running, 2 — the cluster (kubelet or API
server) is not running, 4 — kubeconfig does not point at it. 7 is "stopped";
85 (ExGuestNotFound) means the profile does not exist at all.
"""

from __future__ import annotations

import json
from typing import Any

from msgspec import Struct
from msgspec.structs import asdict

HOST_NOT_RUNNING = 1
CLUSTER_NOT_RUNNING = 2
KUBECONFIG_NOT_CONFIGURED = 4
PROFILE_NOT_FOUND = 85
NO_PROFILES = 14  # MK_USAGE_NO_PROFILE from `profile list` (text output)
STATUS_CODES = frozenset(range(8)) | {PROFILE_NOT_FOUND}
UNKNOWN = "Unknown"


class ProfileStatus(Struct, frozen=True):
    """The decoded answer of `minikube -p PROFILE status -o json`."""

    profile: str
    exists: bool
    exit_code: int
    host: str = UNKNOWN
    kubelet: str = UNKNOWN
    apiserver: str = UNKNOWN
    kubeconfig: str = UNKNOWN

    @property
    def host_ok(self) -> bool:
        return self.exists and not self.exit_code & HOST_NOT_RUNNING

    @property
    def cluster_ok(self) -> bool:
        return self.exists and not self.exit_code & CLUSTER_NOT_RUNNING

    @property
    def kubeconfig_ok(self) -> bool:
        return self.exists and not self.exit_code & KUBECONFIG_NOT_CONFIGURED

    @property
    def healthy(self) -> bool:
        return self.exists and self.exit_code == 0

    def as_value(self) -> dict[str, Any]:
        """The JSON-serialisable value `capture:` stores."""
        value = asdict(self)
        value.update(
            host_ok=self.host_ok,
            cluster_ok=self.cluster_ok,
            kubeconfig_ok=self.kubeconfig_ok,
            healthy=self.healthy,
            problems=self.problems(),
        )
        return value

    def problems(self) -> list[str]:
        if not self.exists:
            return [f"profile {self.profile!r} does not exist"]
        found = []
        if not self.host_ok:
            found.append(f"host not running ({self.host})")
        if not self.cluster_ok:
            found.append(
                f"cluster not running (kubelet {self.kubelet}, apiserver {self.apiserver})"
            )
        if not self.kubeconfig_ok:
            found.append(f"kubeconfig not configured ({self.kubeconfig})")
        return found

    def summary(self) -> str:
        if not self.exists:
            return f"profile {self.profile!r} does not exist (exit {self.exit_code})"
        states = (
            f"host {self.host}, kubelet {self.kubelet}, apiserver {self.apiserver}, "
            f"kubeconfig {self.kubeconfig}"
        )
        trouble = "; ".join(self.problems()) or "healthy"
        return f"{states} (exit {self.exit_code}: {trouble})"


def decode_status(profile: str, exit_code: int, stdout: str) -> ProfileStatus | None:
    """Decode `status -o json`; None when it is not a status answer (exit 1 is also
    minikube's generic failure, so bits count only alongside a status document).
    A multi-node profile prints a list: the control plane (first entry) is reported."""
    if exit_code == PROFILE_NOT_FOUND:
        return ProfileStatus(profile, exists=False, exit_code=exit_code)
    node = _first_node(stdout)
    if exit_code not in STATUS_CODES or "Host" not in node:
        return None
    return ProfileStatus(
        profile,
        exists=True,
        exit_code=exit_code,
        host=str(node.get("Host", UNKNOWN)),
        kubelet=str(node.get("Kubelet", UNKNOWN)),
        apiserver=str(node.get("APIServer", UNKNOWN)),
        kubeconfig=str(node.get("Kubeconfig", UNKNOWN)),
    )


def _first_node(stdout: str) -> dict[str, Any]:
    try:
        data = json.loads(stdout.strip() or "{}")
    except ValueError:
        return {}
    if isinstance(data, list):
        data = data[0] if data else {}
    return data if isinstance(data, dict) else {}


class ProfileConfig(Struct, frozen=True):
    """A profile's configuration as `minikube profile list -o json` reports it."""

    name: str
    status: str
    driver: str = ""
    memory_mib: int | None = None
    cpus: int | None = None
    kubernetes_version: str = ""

    @property
    def running(self) -> bool:
        return self.status == "Running"

    def as_value(self) -> dict[str, Any]:
        return asdict(self)


def find_profile(profile: str, exit_code: int, stdout: str) -> ProfileConfig | None:
    """The named profile from `profile list -o json`; None when it does not exist.
    Raises ValueError when the answer cannot be read (then nothing is known)."""
    if exit_code == NO_PROFILES:
        return None
    if exit_code != 0:
        raise ValueError(f"`profile list` exited {exit_code}")
    try:
        data = json.loads(stdout.strip() or "{}")
    except ValueError as exc:
        raise ValueError(f"`profile list` did not print JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError("`profile list` printed JSON that is not an object")
    for entry in [*(data.get("valid") or []), *(data.get("invalid") or [])]:
        if isinstance(entry, dict) and entry.get("Name") == profile:
            return _config(entry)
    return None


def _config(entry: dict[str, Any]) -> ProfileConfig:
    config = entry.get("Config") or {}
    kubernetes = config.get("KubernetesConfig") or {}
    memory, cpus = config.get("Memory"), config.get("CPUs")
    return ProfileConfig(
        name=str(entry["Name"]),
        status=str(entry.get("Status", UNKNOWN)),
        driver=str(config.get("Driver", "")),
        memory_mib=int(memory) if isinstance(memory, int) and memory > 0 else None,
        cpus=int(cpus) if isinstance(cpus, int) and cpus > 0 else None,
        kubernetes_version=str(kubernetes.get("KubernetesVersion", "")),
    )


def config_from_value(value: dict[str, Any]) -> ProfileConfig:
    """Back from the ledger's JSON (a captured configuration) to a ProfileConfig."""
    memory, cpus = value.get("memory_mib"), value.get("cpus")
    return ProfileConfig(
        name=str(value.get("name", "")),
        status=str(value.get("status", UNKNOWN)),
        driver=str(value.get("driver") or ""),
        memory_mib=memory if isinstance(memory, int) else None,
        cpus=cpus if isinstance(cpus, int) else None,
        kubernetes_version=str(value.get("kubernetes_version") or ""),
    )
