"""A fake Docker Engine API on a unix socket, for the REAL `docker` CLI.

Why a fake: Docker Desktop (a VM with the engine inside) cannot run in CI, and a real
dockerd needs root privileges and a kernel this sandbox may not give. The engine is
tested through the real `docker` CLI (/usr/local/bin/docker), so its requests,
version negotiation and error messages are genuine; only the answers come from here:
/_ping, /version, /info, /containers/json, /images/json and the prune endpoints.

It follows the shared state (fakestate): it listens only while
state["desktop"]["status"] is "running" — so `docker desktop stop` (the fake plugin)
really takes the socket away and the CLI prints its real "Cannot connect to the
Docker daemon" — and while state["engine"]["hang"] is true every request is held
without an answer: an engine that accepts connections but never replies.

    python fake_docker_engine.py SOCKET_PATH     (state: $FAKE_STATE)
Requests are appended to $FAKE_ENGINE_LOG (JSON lines).
"""

from __future__ import annotations

import json
import os
import signal
import socketserver
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

import fakestate

API = "1.47"
ENGINE = "27.4.0"
HANG_LIMIT = 120.0
stopping = threading.Event()


def info(engine: dict[str, Any]) -> dict[str, Any]:
    containers = engine.get("containers", {})
    running = sum(1 for c in containers.values() if c.get("state") == "running")
    return {
        "ID": "FAKE:ENGINE",
        "Containers": len(containers),
        "ContainersRunning": running,
        "ContainersPaused": 0,
        "ContainersStopped": len(containers) - running,
        "Images": 3,
        "ServerVersion": ENGINE,
        "OperatingSystem": "Docker Desktop (fake)",
        "OSType": "linux",
        "Architecture": "x86_64",
        "NCPU": engine.get("ncpu", 4),
        "MemTotal": engine.get("mem_total_mib", 8192) * 1024**2,
        "Name": "docker-desktop",
        "Driver": "overlay2",
        "DockerRootDir": "/var/lib/docker",
        "Warnings": None,
    }


VERSION = {
    "Version": ENGINE,
    "ApiVersion": API,
    "MinAPIVersion": "1.24",
    "Os": "linux",
    "Arch": "amd64",
    "GitCommit": "fake",
    "GoVersion": "go1.22",
    "Platform": {"Name": "Docker Desktop (fake)"},
    "Components": [{"Name": "Engine", "Version": ENGINE, "Details": {"ApiVersion": API}}],
}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        return

    def address_string(self) -> str:
        return "unix"

    def do_GET(self) -> None:
        self.route("GET")

    def do_HEAD(self) -> None:
        self.route("HEAD")

    def do_POST(self) -> None:
        self.route("POST")

    def send(self, code: int, body: Any, ctype: str = "application/json") -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode() + b"\n"
        self.send_response(code)
        for key, value in (
            ("Api-Version", API),
            ("Ostype", "linux"),
            ("Server", f"Docker/{ENGINE}"),
        ):
            self.send_header(key, value)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def route(self, method: str) -> None:
        url = urlsplit(self.path)
        parts = url.path.strip("/").split("/")
        if parts and parts[0].startswith("v1."):
            parts = parts[1:]
        path = "/".join(parts)
        record = {"method": method, "path": path, "query": parse_qs(url.query)}
        with open(os.environ["FAKE_ENGINE_LOG"], "a") as handle:
            handle.write(json.dumps({"ts": time.time(), **record}) + "\n")
        self.hold_while_hung()
        with fakestate.locked(write=method == "POST") as state:
            self.answer(method, path, state["engine"])

    def hold_while_hung(self) -> None:
        end = time.monotonic() + HANG_LIMIT
        while fakestate.read()["engine"].get("hang") and time.monotonic() < end:
            if stopping.wait(0.05):
                return

    def answer(self, method: str, path: str, engine: dict[str, Any]) -> None:
        if path == "_ping":
            return self.send(200, b"OK", "text/plain; charset=utf-8")
        if path == "version":
            return self.send(200, VERSION)
        if path == "info":
            return self.send(200, info(engine))
        if path in ("containers/json", "images/json"):
            return self.send(200, [])
        if method == "POST" and path.endswith("/prune"):
            return self.prune(path.split("/")[0], engine)
        return self.send(404, {"message": f"page not found (fake engine: {method} /{path})"})

    def prune(self, kind: str, engine: dict[str, Any]) -> None:
        engine.setdefault("pruned", []).append(kind)
        reclaimed = engine.get("reclaimable_bytes", {}).pop(kind, 0)
        bodies = {
            "containers": {"ContainersDeleted": [], "SpaceReclaimed": reclaimed},
            "images": {"ImagesDeleted": [], "SpaceReclaimed": reclaimed},
            "networks": {"NetworksDeleted": []},
            "build": {"CachesDeleted": [], "SpaceReclaimed": reclaimed},
            "volumes": {"VolumesDeleted": [], "SpaceReclaimed": reclaimed},
        }
        self.send(200, bodies.get(kind, {}))


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def serve(sock: str) -> None:
    """Listen exactly while Docker Desktop is `running` in the shared state."""
    server: Server | None = None
    while not stopping.is_set():
        want = fakestate.read()["desktop"].get("status") == "running"
        if want and server is None:
            if os.path.exists(sock):
                os.unlink(sock)
            server = Server(sock, Handler)
            threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
            ).start()
        elif not want and server is not None:
            server.shutdown()
            server.server_close()
            os.unlink(sock)
            server = None
        stopping.wait(0.05)
    if server is not None:
        server.shutdown()
        server.server_close()
    if os.path.exists(sock):
        os.unlink(sock)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    serve(sys.argv[1])
