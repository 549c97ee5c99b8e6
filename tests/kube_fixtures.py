"""A real Kubernetes control plane on loopback, started once per test session: etcd,
kube-apiserver, kube-controller-manager, kube-scheduler (v1.20, built from Debian's
`kubernetes` source package by scripts/build-kube-control-plane.sh into a cache outside
the checkout) and a stand-in kubelet (tests/stand_in_kubelet.py) that registers two
Ready nodes and runs the pods bound to them.

Missing binaries: skipped with the reason on a developer's machine, a failure under
CI=true (`.ci/run` builds them). Each test works in a namespace of its own.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from components import free_port, require_binary

KUBE_CACHE = Path(os.environ.get("RUNBOOK_KUBE_CACHE", "/var/cache/runbook-engine/kube-1.20"))
BUILD = "scripts/build-kube-control-plane.sh"
TOKEN = "runbook-test-admin-token"  # a loopback test cluster's static token
NODES = ("node-1", "node-2")
CONTEXT = "kcp"
HERE = Path(__file__).resolve().parent


def require_kube(name: str) -> str:
    """The path of a control-plane binary: skip (fail under CI) when it is not built."""
    path = KUBE_CACHE / name
    if path.is_file() and os.access(path, os.X_OK):
        return str(path)
    reason = f"{path} is not built (run {BUILD}; ~7 min, cached outside the checkout)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI must build it in .ci/run")
    pytest.skip(reason)


@dataclass
class KubeCluster:
    """The running control plane: its kubeconfig, context, and a JSON API helper."""

    kubeconfig: Path
    state: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    started_in: float = 0.0
    context: str = CONTEXT

    @property
    def env(self) -> dict[str, str]:
        return {"KUBECONFIG": str(self.kubeconfig)}

    def api(self, method: str, path: str, body: Any = None, **kw: Any) -> Any:
        """One request through the engine's client (raises KubeError)."""
        from engine.backends.kube.client import Deadline
        from engine.backends.kube.config import Binding
        from engine.backends.kube.session import connect

        kube = connect(Binding(str(self.kubeconfig), self.context, True))
        try:
            deadline = Deadline.after(20)
            return kube.call(method, path, deadline, verb=method, target=path, body=body, **kw)
        finally:
            kube.close()

    def uid(self) -> str:
        return str(self.api("GET", "/api/v1/namespaces/kube-system")["metadata"]["uid"])

    def wait(self, what: str, check: Callable[[], bool], timeout: float = 60) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if check():
                return
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="session")
def kube_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeCluster]:
    """Start the control plane once per session (~5 s), stop it at the end."""
    binaries = {n: require_kube(n) for n in ("kube-apiserver", "kube-controller-manager")}
    binaries["kube-scheduler"] = require_kube("kube-scheduler")
    binaries["etcd"] = require_binary("etcd", "etcd-server")
    state = tmp_path_factory.mktemp("kube")
    cluster = KubeCluster(state / "kubeconfig", state)
    started = time.monotonic()
    try:
        _start(cluster, binaries)
        cluster.started_in = time.monotonic() - started
        yield cluster
    finally:
        for name in reversed(list(cluster.processes)):
            _stop(cluster.processes[name])


def _start(cluster: KubeCluster, binaries: dict[str, str]) -> None:
    state = cluster.state
    _keys(state)
    (state / "tokens.csv").write_text(f'{TOKEN},runbook-admin,uid-admin,"system:masters"\n')
    etcd_port, api_port = free_port(), free_port()
    cluster.processes["etcd"] = _spawn(state, "etcd", _etcd(binaries["etcd"], state, etcd_port))
    argv = _apiserver(binaries["kube-apiserver"], state, etcd_port, api_port)
    cluster.processes["kube-apiserver"] = _spawn(state, "kube-apiserver", argv)
    _write_kubeconfig(cluster.kubeconfig, state, api_port)
    _wait_ready(cluster, api_port)
    for name, argv in _controllers(binaries, cluster.kubeconfig, state).items():
        cluster.processes[name] = _spawn(state, name, argv)
    cluster.wait("nodes Ready", lambda: _nodes_ready(cluster), timeout=60)


def _keys(state: Path) -> None:
    """The service-account signing key pair."""
    from cryptography.hazmat.primitives import serialization as ser
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem, none = ser.Encoding.PEM, ser.NoEncryption()
    (state / "sa.key").write_bytes(key.private_bytes(pem, ser.PrivateFormat.PKCS8, none))
    public = key.public_key().public_bytes(pem, ser.PublicFormat.SubjectPublicKeyInfo)
    (state / "sa.pub").write_bytes(public)


def _etcd(binary: str, state: Path, port: int) -> list[str]:
    peer, metrics = free_port(), free_port()
    return [
        binary, "--name", "default", "--data-dir", str(state / "etcd"),
        "--listen-client-urls", f"http://127.0.0.1:{port}",
        "--advertise-client-urls", f"http://127.0.0.1:{port}",
        "--listen-peer-urls", f"http://127.0.0.1:{peer}",
        "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
        "--initial-cluster", f"default=http://127.0.0.1:{peer}",
        "--listen-metrics-urls", f"http://127.0.0.1:{metrics}",
    ]  # fmt: skip


def _apiserver(binary: str, state: Path, etcd_port: int, port: int) -> list[str]:
    return [
        binary, "--etcd-servers", f"http://127.0.0.1:{etcd_port}",
        "--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1",
        "--secure-port", str(port), "--insecure-port", "0", "--cert-dir", str(state / "certs"),
        "--token-auth-file", str(state / "tokens.csv"), "--authorization-mode", "RBAC",
        "--service-account-issuer", "https://kubernetes.default.svc",
        "--service-account-key-file", str(state / "sa.pub"),
        "--service-account-signing-key-file", str(state / "sa.key"),
        "--service-cluster-ip-range", "10.96.0.0/24",
        "--disable-admission-plugins", "ServiceAccount", "--enable-priority-and-fairness=false",
    ]  # fmt: skip


def _controllers(binaries: dict[str, str], kubeconfig: Path, state: Path) -> dict[str, list[str]]:
    common = ["--kubeconfig", str(kubeconfig), "--leader-elect=false",
              "--bind-address", "127.0.0.1", "--port", "0", "--secure-port", "0"]  # fmt: skip
    manager = [
        binaries["kube-controller-manager"], *common,
        "--service-account-private-key-file", str(state / "sa.key"),
        "--root-ca-file", str(state / "certs" / "apiserver.crt"),
        "--controllers", "*,-nodelifecycle,-serviceaccount-token",
        "--use-service-account-credentials=false",
    ]  # fmt: skip
    kubelet = [sys.executable, str(HERE / "stand_in_kubelet.py"), str(kubeconfig), CONTEXT]
    return {
        "kube-controller-manager": manager,
        "kube-scheduler": [binaries["kube-scheduler"], *common],
        "stand-in-kubelet": [*kubelet, ",".join(NODES)],
    }


def _write_kubeconfig(path: Path, state: Path, port: int) -> None:
    config = {
        "apiVersion": "v1", "kind": "Config", "current-context": CONTEXT,
        "clusters": [{"name": "kcp", "cluster": {
            "server": f"https://127.0.0.1:{port}",
            "certificate-authority": str(state / "certs" / "apiserver.crt")}}],
        "contexts": [{"name": CONTEXT, "context": {"cluster": "kcp", "user": "admin"}}],
        "users": [{"name": "admin", "user": {"token": TOKEN}}],
    }  # fmt: skip
    path.write_text(json.dumps(config, indent=2))


def _wait_ready(cluster: KubeCluster, port: int, timeout: float = 90) -> None:
    ca = cluster.state / "certs" / "apiserver.crt"
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for name in ("etcd", "kube-apiserver"):
            if cluster.processes[name].poll() is not None:
                log = (cluster.state / f"{name}.log").read_text()[-3000:]
                raise AssertionError(f"{name} exited:\n{log}")
        if ca.exists() and _ready(f"https://127.0.0.1:{port}/readyz", ca):
            return
        time.sleep(0.1)
    raise AssertionError("kube-apiserver never became ready")


def _ready(url: str, ca: Path) -> bool:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {TOKEN}"})
    try:
        context = ssl.create_default_context(cafile=str(ca))
        with urllib.request.urlopen(request, timeout=2, context=context) as response:
            return bool(response.status == 200)
    except (OSError, ssl.SSLError):
        return False


def _nodes_ready(cluster: KubeCluster) -> bool:
    nodes = cluster.api("GET", "/api/v1/nodes").get("items", [])
    ready = [
        n for n in nodes if not n["spec"].get("taints")
        and any(c["type"] == "Ready" and c["status"] == "True" for c in _conditions(n))
    ]  # fmt: skip
    return len(ready) == len(NODES)


def _conditions(node: dict[str, Any]) -> list[dict[str, Any]]:
    """A node's conditions; none yet while its stand-in kubelet is registering it."""
    conditions: list[dict[str, Any]] = node.get("status", {}).get("conditions") or []
    return conditions


def _spawn(state: Path, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
    with open(state / f"{name}.log", "ab") as log:
        return subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def step_context(kubeconfig: Path | str, timeout: float = 30, mode: str = "live") -> Any:
    """A StepContext as the runner builds it, with `playbook.kubernetes` from KUBECONFIG."""
    from engine.core.resources import Resources
    from engine.steps.base import StepContext
    from engine.templating.render import TemplateRenderer
    from engine.ui.operator import HeadlessOperator

    kubernetes = {"env_kubeconfig": str(kubeconfig), "base_dir": str(HERE)}
    variables = {"playbook": {"kubernetes": kubernetes}, "run": {"mode": mode}, "inputs": {}}
    return StepContext(
        step_id="test", render=TemplateRenderer(variables), operator=HeadlessOperator(False),
        resources=Resources(), base_dir=HERE / "playbooks" / "kube", timeout=timeout,
    )  # fmt: skip


def kubectl(body: dict[str, Any]) -> Any:
    """The parsed spec of a `kubectl:` step body."""
    from engine.core.findings import Location
    from engine.steps import kubectl as step

    return step.parse(body, Location("test"))


def deployment(
    name: str = "web", replicas: int = 2, template_spec: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A Deployment manifest (`template_spec`: more of the pod spec, e.g. nodeSelector)."""
    labels = {"app": name}
    container = {"name": name, "image": "nginx:1.25", "env": [{"name": "MODE", "value": "live"}]}
    pod = {"containers": [container], **(template_spec or {})}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels}, "spec": pod}},
    }  # fmt: skip


@pytest.fixture
def kube_ns(kube_cluster: KubeCluster) -> Iterator[str]:
    """A namespace of this test's own on the real cluster, deleted afterwards."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    kube_cluster.api("POST", "/api/v1/namespaces", {"metadata": {"name": name}})
    yield name
    kube_cluster.api("DELETE", f"/api/v1/namespaces/{name}")


def create_web(
    cluster: KubeCluster, ns: str, replicas: int = 2, template_spec: dict[str, Any] | None = None
) -> None:
    """A Deployment `web`, waited for until every replica is available."""
    manifest = deployment(replicas=replicas, template_spec=template_spec)
    cluster.api("POST", f"/apis/apps/v1/namespaces/{ns}/deployments", manifest)
    cluster.wait("web available", lambda: available(cluster, ns) == replicas)


def available(cluster: KubeCluster, ns: str, name: str = "web") -> int:
    """Available replicas once the controller has seen the latest spec, else -1."""
    found = cluster.api("GET", f"/apis/apps/v1/namespaces/{ns}/deployments/{name}")
    settled = found["status"].get("observedGeneration") == found["metadata"]["generation"]
    return int(found["status"].get("availableReplicas", 0)) if settled else -1


class CountingRelay:
    """A TCP relay in front of the API server that counts the connections clients open
    through it: what a kubeconfig from `kubeconfig_through` reaches. The bytes (TLS
    included) pass unchanged, so the server's certificate still matches 127.0.0.1."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream = ("127.0.0.1", upstream_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        self._sockets: list[socket.socket] = [self.listener]
        threading.Thread(target=self._accept, daemon=True).start()

    def kubeconfig_through(self, cluster: KubeCluster, path: Path) -> Path:
        """A copy of the cluster's kubeconfig whose server is this relay."""
        config = json.loads(cluster.kubeconfig.read_text())
        server = f"https://127.0.0.1:{self.port}"
        config["clusters"][0]["cluster"]["server"] = server
        path.write_text(json.dumps(config))
        return path

    def close(self) -> None:
        for sock in self._sockets:
            sock.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            self.connections += 1
            server = socket.create_connection(self.upstream)
            self._sockets += [client, server]
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=_pipe, args=(source, sink), daemon=True).start()


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
        sink.shutdown(socket.SHUT_WR)
    except OSError:
        pass  # the other side went away, or the relay closed


@pytest.fixture
def counting_relay(kube_cluster: KubeCluster) -> Iterator[CountingRelay]:
    """A connection-counting relay to the test cluster's API server."""
    config = json.loads(kube_cluster.kubeconfig.read_text())
    port = int(config["clusters"][0]["cluster"]["server"].rsplit(":", 1)[1])
    relay = CountingRelay(port)
    yield relay
    relay.close()
