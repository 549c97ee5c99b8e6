"""A stand-in Kubernetes API server that only answers `/readyz`, for the real kubectl.

Why a stand-in: the API server of a minikube profile lives inside minikube's VM, which
cannot run in CI. The playbooks read its health with the real `kubectl get --raw
/readyz`; this server answers that request from the fake minikube's state: `ok` (200)
while the profile runs with its kubelet and API server up, else the 500 and check list
a real API server gives while it is unhealthy.
"""

from __future__ import annotations

from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any


def apiserver_up(profile: dict[str, Any]) -> bool:
    running = profile.get("status") == "Running" and not profile.get("machine_missing")
    parts = (profile.get("apiserver", "Running"), profile.get("kubelet", "Running"))
    return running and parts == ("Running", "Running")


class Readyz(BaseHTTPRequestHandler):
    """Subclassed by the fixture with `state` (reads the fakes' state) and `profile`."""

    state: Callable[[], dict[str, Any]]
    profile: str

    def do_GET(self) -> None:
        profile = self.state()["minikube"]["profiles"].get(self.profile) or {}
        up = apiserver_up(profile) and self.path.startswith("/readyz")
        body = b"ok" if up else b"[-]etcd failed: reason withheld\nreadyz check failed"
        self.send_response(200 if up else 500)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        return
