"""Stand-ins for what a real cluster has and this machine cannot run, for the Kubernetes
playbook e2e tests (tests/e2e/test_playbooks_e2e_kube.py). The control plane they talk to is
the REAL one of tests/kube_fixtures.py; only the node agent and the metrics exporter are
stand-ins:

* `NodeStandIn`: one extra Node of the test's own, tended in a thread like a kubelet
  would. No container runtime can run here, so its "runtime" runs each container's
  `command` (if the pod spec has one) as a local process for at most 2 s: one that exits
  non-zero in that time crash-loops (status `waiting: CrashLoopBackOff`, its output is
  the container log), anything else runs. Its log endpoint is a small HTTPS server
  (`/containerLogs/...`) on loopback that the REAL API server proxies `pods/log` to, as
  it does to a kubelet (the API server verifies no kubelet certificate without
  `--kubelet-certificate-authority`). Its `DiskPressure` condition is computed from a
  real filesystem (available below 10 %: the kubelet's default hard eviction
  threshold), without the kubelet's 5-minute transition period.
* `MetricsStandIn`: kube-state-metrics is not installed here, so a thread computes its
  series from the REAL API server's objects and pushes them to the REAL Pushgateway that
  the REAL Prometheus of tests/prom_fixtures.py scrapes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.server
import os
import signal
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.backends.kube.client import Deadline, KubeError
from engine.backends.kube.config import Binding
from engine.backends.kube.session import connect

MERGE = "application/merge-patch+json"
CRASH_WITHIN = 2.0  # a command still running after this "started" fine


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _self_signed(folder: Path) -> ssl.SSLContext:
    """A server context with a fresh self-signed certificate for 127.0.0.1."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives import serialization as ser
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "stand-in-kubelet")])
    start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(start).not_valid_after(start + dt.timedelta(days=1))
        .add_extension(san, critical=False).sign(key, hashes.SHA256())
    )  # fmt: skip
    (folder / "kubelet.crt").write_bytes(cert.public_bytes(ser.Encoding.PEM))
    pem = key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8, ser.NoEncryption())
    (folder / "kubelet.key").write_bytes(pem)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(folder / "kubelet.crt", folder / "kubelet.key")
    return context


class NodeStandIn:
    """A Node named `name` on the real API server, tended by a thread (see the module
    docstring). `disk_pressure`, when given, is asked on every pass."""

    def __init__(
        self,
        kubeconfig: Path,
        context: str,
        name: str,
        state: Path,
        disk_pressure: Callable[[], bool] | None = None,
    ) -> None:
        self.name, self.state, self.disk_pressure = name, state, disk_pressure
        self.kube = connect(Binding(str(kubeconfig), context, True))
        self.logs: dict[str, str] = {}  # "ns/pod/container" -> its output
        self.started: list[str] = []  # "ns/pod" in the order the runtime started them
        self.errors: list[str] = []
        self._halt = threading.Event()
        self._pressure: bool | None = None
        self._beat = 0.0
        self._server = self._log_server()
        self._threads = [
            threading.Thread(target=self._server.serve_forever, daemon=True),
            threading.Thread(target=self._loop, daemon=True),
        ]

    # -- the API ---------------------------------------------------------------------

    def call(self, method: str, path: str, body: Any = None, **kw: Any) -> Any:
        return self.kube.call(
            method, path, Deadline.after(10), verb=method, target=path, body=body, **kw
        )

    def start(self) -> NodeStandIn:
        try:
            self.call("POST", "/api/v1/nodes", {"metadata": {
                "name": self.name, "labels": {"kubernetes.io/hostname": self.name}}})  # fmt: skip
        except KubeError as exc:
            if exc.status != 409:
                raise
        node = self.call("GET", f"/api/v1/nodes/{self.name}")
        taints = [t for t in node["spec"].get("taints", []) if "not-ready" not in t["key"]]
        patch = {"spec": {"taints": taints or None}}
        self.call("PATCH", f"/api/v1/nodes/{self.name}", patch, content_type=MERGE)
        self._report(force=True)
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._halt.set()
        self._server.shutdown()
        for thread in self._threads:
            thread.join(timeout=10)
        self._server.server_close()
        with contextlib.suppress(KubeError):
            self.call("DELETE", f"/api/v1/nodes/{self.name}")
        self.kube.close()

    def node(self) -> dict[str, Any]:
        return dict(self.call("GET", f"/api/v1/nodes/{self.name}"))

    # -- the node's status -----------------------------------------------------------

    def _condition(self, kind: str, true: bool, reason: str, message: str) -> dict[str, Any]:
        return {"type": kind, "status": "True" if true else "False", "reason": reason,
                "message": message, "lastHeartbeatTime": _now(),
                "lastTransitionTime": _now()}  # fmt: skip

    def _report(self, force: bool = False) -> None:
        pressure = bool(self.disk_pressure and self.disk_pressure())
        if not force and pressure == self._pressure and time.monotonic() - self._beat < 10:
            return
        resources = {"cpu": "8", "memory": "32Gi", "pods": "110", "ephemeral-storage": "64Mi"}
        disk = ("KubeletHasDiskPressure", "available < 10 %") if pressure else (
            "KubeletHasNoDiskPressure", "stand-in kubelet has no disk pressure")  # fmt: skip
        conditions = [
            self._condition("Ready", True, "KubeletReady", "stand-in kubelet"),
            self._condition("DiskPressure", pressure, *disk),
        ]
        status = {
            "conditions": conditions, "capacity": resources, "allocatable": resources,
            "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],  # no DNS name
            "daemonEndpoints": {"kubeletEndpoint": {"Port": self._server.server_address[1]}},
            "nodeInfo": {"kubeletVersion": "v1.20.2", "kubeProxyVersion": "v1.20.2",
                         "osImage": "stand-in", "kernelVersion": "stand-in",
                         "containerRuntimeVersion": "stand-in://1", "operatingSystem": "linux",
                         "architecture": "amd64", "machineID": "", "systemUUID": "",
                         "bootID": ""},
        }  # fmt: skip
        path = f"/api/v1/nodes/{self.name}/status"
        self.call("PATCH", path, {"status": status}, content_type=MERGE)
        self._pressure, self._beat = pressure, time.monotonic()

    # -- the pods --------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._halt.wait(0.2):
            try:
                self._report()
                self._tend()
            except Exception as exc:  # reported by the test, never hidden
                self.errors.append(repr(exc))

    def _tend(self) -> None:
        query = {"fieldSelector": f"spec.nodeName={self.name}"}
        for pod in self.call("GET", "/api/v1/pods", query=query).get("items", []):
            meta = pod["metadata"]
            if meta.get("deletionTimestamp") or pod["status"].get("phase") != "Pending":
                continue  # the session's stand-in kubelet finalizes deleted pods
            status = self._run_pod(pod)
            path = f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}/status"
            try:
                self.call("PATCH", path, {"status": status}, content_type=MERGE)
            except KubeError as exc:
                if exc.status not in (404, 409):
                    raise
            self.started.append(f"{meta['namespace']}/{meta['name']}")

    def _run_pod(self, pod: dict[str, Any]) -> dict[str, Any]:
        meta, statuses, ready = pod["metadata"], [], True
        for container in pod["spec"]["containers"]:
            key = f"{meta['namespace']}/{meta['name']}/{container['name']}"
            code, output = self._run_container(container)
            status: dict[str, Any] = {
                "name": container["name"], "image": container["image"], "imageID": "",
                "restartCount": 0, "ready": code is None, "started": code is None,
                "state": {"running": {"startedAt": _now()}},
            }  # fmt: skip
            if code is None:
                self.logs[key] = f"stand-in runtime: {container['image']} running\n"
            else:
                ready = False
                self.logs[key] = output
                status["restartCount"] = 1
                status["lastState"] = {"terminated": {
                    "exitCode": code, "reason": "Error", "startedAt": _now(),
                    "finishedAt": _now()}}  # fmt: skip
                status["state"] = {"waiting": {"reason": "CrashLoopBackOff", "message":
                    f"back-off 10s restarting failed container={container['name']} "
                    f"pod={meta['name']}"}}  # fmt: skip
            statuses.append(status)
        conditions = [
            {"type": kind, "status": "True" if ok else "False", "lastTransitionTime": _now()}
            for kind, ok in (("Initialized", True), ("Ready", ready),
                             ("ContainersReady", ready), ("PodScheduled", True))
        ]  # fmt: skip
        return {"phase": "Running", "conditions": conditions, "hostIP": "127.0.0.1",
                "podIP": "10.244.1.10", "startTime": _now(),
                "containerStatuses": statuses}  # fmt: skip

    def _run_container(self, container: dict[str, Any]) -> tuple[int | None, str]:
        """(exit code, output) of a command that ended within CRASH_WITHIN (even with
        0: a Deployment's pod restarts it, and it crash-loops), else (None, ""). A
        container without a `command` runs its image's entrypoint, which this stand-in
        cannot: it counts as running."""
        argv = [*container.get("command", []), *container.get("args", [])]
        if not container.get("command"):
            return None, ""
        with tempfile.TemporaryDirectory(dir=self.state) as cwd:
            process = subprocess.Popen(
                argv, cwd=cwd, env={"PATH": "/usr/bin:/bin", "HOME": cwd},
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                start_new_session=True, text=True,
            )  # fmt: skip
            try:
                output, _ = process.communicate(timeout=CRASH_WITHIN)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.communicate()
                return None, ""
        return process.returncode, output  # exited: restarted, and again (restartPolicy)

    # -- the log endpoint the API server proxies pods/log to -------------------------

    def _log_server(self) -> http.server.ThreadingHTTPServer:
        logs = self.logs

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                parts = url.path.strip("/").split("/")
                text = logs.get("/".join(parts[1:4])) if parts[0] == "containerLogs" else None
                if text is None:
                    self.send_error(404)
                    return
                tail = urllib.parse.parse_qs(url.query).get("tailLines")
                if tail:
                    text = "".join(text.splitlines(keepends=True)[-int(tail[0]) :])
                body = text.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.socket = _self_signed(self.state).wrap_socket(server.socket, server_side=True)
        return server


class MetricsStandIn:
    """Every 250 ms, `series()` (lines of the exposition format, computed from the real
    cluster) replaces the Pushgateway group `job/kube-state-metrics/instance/<instance>`;
    no lines: the group is deleted, as the series vanish from a real exporter."""

    def __init__(self, pushgateway: str, instance: str, series: Callable[[], list[str]]):
        self.url = f"{pushgateway}/metrics/job/kube-state-metrics/instance/{instance}"
        self.series = series
        self.errors: list[str] = []
        self.pushed: list[str] = []
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def start(self) -> MetricsStandIn:
        self.push()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._halt.set()
        self._thread.join(timeout=10)
        self._send(urllib.request.Request(self.url, method="DELETE"))

    def push(self) -> None:
        lines = self.series()
        if lines:
            body = "".join(f"{line}\n" for line in lines).encode()
            self._send(urllib.request.Request(self.url, data=body, method="PUT"))
        else:
            self._send(urllib.request.Request(self.url, method="DELETE"))
        self.pushed = lines

    def _loop(self) -> None:
        while not self._halt.wait(0.25):
            try:
                self.push()
            except Exception as exc:  # reported by the test, never hidden
                self.errors.append(repr(exc))

    @staticmethod
    def _send(request: urllib.request.Request) -> None:
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status in (200, 202), response.status
