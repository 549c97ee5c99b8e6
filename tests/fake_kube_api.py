"""A small in-process fake of the Kubernetes REST API, for the faults a real
kube-apiserver will not produce on demand: 500s, a server that accepts the request and
never answers, a 409 on every write, a watch that expires (410 Gone).

Why a fake: everything else is tested against the real kube-apiserver and etcd
(`kube_fixtures.py`); a real server cannot be told to fail the next three PATCHes or
to hang. This fake speaks just enough of the API for those tests (objects by path, the
`scale` subresource, lists, a polling watch, pod logs, resourceVersion conflicts,
Status error bodies) and records every request so tests can count retries.

    api = FakeKubeApi().start()
    api.add("/apis/apps/v1/namespaces/shop/deployments/web", {...})
    api.fault("PUT", r"/scale$", status=500, count=2)   # or hang=True, or count=None
    api.write_kubeconfig(path, context="fake")
    api.stop()
"""

from __future__ import annotations

import copy
import itertools
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

SCALE = re.compile(r"^(?P<parent>.+/deployments/[^/]+)/scale$")
LOG = re.compile(r"^(?P<pod>.+/pods/[^/]+)/log$")


@dataclass
class Fault:
    method: str
    path: re.Pattern[str]
    status: int = 500
    count: int | None = 1  # None: forever
    hang: bool = False
    message: str = "injected fault"


@dataclass
class FakeKubeApi:
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    logs: dict[str, str] = field(default_factory=dict)
    expire_watches: int = 0  # the next N watches get a 410 Gone ERROR event
    port: int = 0

    def __post_init__(self) -> None:
        self.lock = threading.RLock()
        self.stopping = threading.Event()
        self.versions = itertools.count(100)
        self.server: ThreadingHTTPServer | None = None
        self.add("/api/v1/namespaces/kube-system", {"kind": "Namespace", "apiVersion": "v1"})

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeKubeApi:
        handler = type("Handler", (_Handler,), {"api": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def write_kubeconfig(self, path: Path, context: str = "fake") -> Path:
        path.write_text(
            json.dumps({
                "apiVersion": "v1", "kind": "Config", "current-context": context,
                "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
                "contexts": [{"name": context, "context": {"cluster": "fake", "user": "u"}}],
                "users": [{"name": "u", "user": {"token": "fake-token"}}],
            })
        )  # fmt: skip
        return path

    def add(self, path: str, obj: dict[str, Any]) -> None:
        name = path.rstrip("/").rsplit("/", 1)[-1]
        meta = obj.setdefault("metadata", {})
        meta.setdefault("name", name)
        meta.setdefault("uid", str(uuid.uuid4()))
        with self.lock:
            self._store(path, obj)

    def get(self, path: str) -> dict[str, Any]:
        with self.lock:
            return copy.deepcopy(self.objects[path])

    def fault(self, method: str, path: str, **kwargs: Any) -> None:
        self.faults.append(Fault(method, re.compile(path), **kwargs))

    def count(self, method: str, path_regex: str) -> int:
        return sum(1 for m, p in self.requests if m == method and re.search(path_regex, p))

    def _store(self, path: str, obj: dict[str, Any]) -> dict[str, Any]:
        obj["metadata"]["resourceVersion"] = str(next(self.versions))
        self.objects[path] = obj
        return obj

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.method == method and fault.path.search(path) and fault.count != 0:
                    if fault.count is not None:
                        fault.count -= 1
                    return fault
        return None


class _Handler(BaseHTTPRequestHandler):
    api: FakeKubeApi
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._handle("GET")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _handle(self, method: str) -> None:
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        self.api.requests.append((method, url.path))
        fault = self.api.take_fault(method, url.path)
        if fault is not None and fault.hang:
            self.api.stopping.wait(120)
            return
        if fault is not None:
            return self._status(fault.status, "InternalError", fault.message)
        try:
            self._route(method, url.path, query, body)
        except KeyError:
            self._status(404, "NotFound", f"{url.path} not found")

    def _route(self, method: str, path: str, query: dict[str, str], body: Any) -> None:
        if method == "GET" and query.get("watch"):
            return self._watch(path, query)
        if LOG.match(path):
            return self._send(200, self.api.logs[LOG.match(path)["pod"]], "text/plain")  # type: ignore[index]
        scale = SCALE.match(path)
        if scale:
            return self._scale(method, scale["parent"], body, query)
        if method == "GET":
            return self._get(path)
        return self._write(method, path, body, query)

    def _get(self, path: str) -> None:
        api = self.api
        with api.lock:
            if path in api.objects:
                return self._send(200, api.objects[path])
            items = [o for p, o in api.objects.items() if p.rsplit("/", 1)[0] == path]
            if not items:
                raise KeyError(path)
            version = str(max(int(o["metadata"]["resourceVersion"]) for o in items))
            self._send(
                200, {"kind": "List", "items": items, "metadata": {"resourceVersion": version}}
            )

    def _write(self, method: str, path: str, body: Any, query: dict[str, str]) -> None:
        api = self.api
        with api.lock:
            current = api.objects[path]
            if method == "DELETE":
                if not query.get("dryRun"):
                    del api.objects[path]
                return self._send(200, {"kind": "Status", "status": "Success"})
            wanted = str((body.get("metadata") or {}).get("resourceVersion") or "")
            if wanted and wanted != current["metadata"]["resourceVersion"]:
                return self._status(409, "Conflict", "the object has been modified")
            merged = _merge(copy.deepcopy(current), body) if method == "PATCH" else body
            merged["metadata"]["name"] = current["metadata"]["name"]
            merged["metadata"]["uid"] = current["metadata"]["uid"]
            if query.get("dryRun"):
                return self._send(200, merged)
            self._send(200, api._store(path, merged))

    def _scale(self, method: str, parent: str, body: Any, query: dict[str, str]) -> None:
        api = self.api
        with api.lock:
            deployment = api.objects[parent]
            meta = deployment["metadata"]
            if method == "PUT":
                if body["metadata"].get("resourceVersion") != meta["resourceVersion"]:
                    return self._status(409, "Conflict", "the object has been modified")
                if not query.get("dryRun"):
                    deployment["spec"]["replicas"] = body["spec"]["replicas"]
                    api._store(parent, deployment)
            scale = {"kind": "Scale", "apiVersion": "autoscaling/v1",
                     "metadata": {"name": meta["name"], "resourceVersion": meta["resourceVersion"]},
                     "spec": {"replicas": deployment["spec"].get("replicas", 1)}}  # fmt: skip
            self._send(200, scale)

    def _watch(self, path: str, query: dict[str, str]) -> None:
        """Polls the store and streams MODIFIED events of newer objects; or 410 Gone."""
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if self.api.expire_watches > 0:
            self.api.expire_watches -= 1
            gone = {"kind": "Status", "code": 410, "reason": "Expired", "message": "too old"}
            self._chunk({"type": "ERROR", "object": gone})
            return self._chunk(None)
        seen = int(query.get("resourceVersion") or 0)
        end = time.monotonic() + float(query.get("timeoutSeconds", 30))
        while time.monotonic() < end and not self.api.stopping.is_set():
            with self.api.lock:
                items = [o for p, o in self.api.objects.items() if p.rsplit("/", 1)[0] == path]
            for obj in sorted(items, key=lambda o: int(o["metadata"]["resourceVersion"])):
                if int(obj["metadata"]["resourceVersion"]) > seen:
                    seen = int(obj["metadata"]["resourceVersion"])
                    self._chunk({"type": "MODIFIED", "object": obj})
            time.sleep(0.05)
        self._chunk(None)

    def _chunk(self, event: Any) -> None:
        data = b"" if event is None else json.dumps(event).encode() + b"\n"
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _status(self, code: int, reason: str, message: str) -> None:
        status = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code,
                  "reason": reason, "message": message}  # fmt: skip
        self._send(code, status)

    def _send(self, code: int, payload: Any, content_type: str = "application/json") -> None:
        data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _merge(target: Any, patch: Any) -> Any:
    """RFC 7386 merge patch (also used, simplified, for strategic merge)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = target if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge(result.get(key), value)
    return result
