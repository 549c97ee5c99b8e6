"""A stand-in AI gateway in front of two stand-in model providers, for the
provider-outage playbook.

Why a stand-in: real providers cannot be made to fail on demand, and a real gateway
(LiteLLM, Portkey, an in-house proxy) needs credentials and the internet. The
playbook speaks to a small admin contract that such gateways offer in one form or
another, reproduced here:

* `GET /admin/route` → `{"provider": NAME}`; `PUT /admin/route {"provider": NAME}`
  (Bearer token) switches where completions go;
* `GET /admin/providers/NAME` → `{"name", "base_url"}`; `PUT` sets its `base_url`;
* `GET /admin/providers/NAME/health` → 200, or 503 when the provider does not answer;
* `GET /health/completions` → 200 when a one-token completion through the active
  route works, else 502: the SLI.

Providers answer `POST /v1/chat/completions` with 200, or 503 while `down`. Every
admin request is recorded (method, path, body, whether the token was right).
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

UPSTREAM_TIMEOUT = 1.0


class Provider(BaseHTTPRequestHandler):
    down = False

    def log_message(self, *args: Any) -> None:
        return

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        code, body = (503, {"error": "overloaded"}) if self.down else (200, {"choices": [{}]})
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@dataclass
class Gateway:
    token: str
    providers: dict[str, str] = field(default_factory=dict)  # name → base_url
    route: str = "primary"
    admin: list[dict[str, Any]] = field(default_factory=list)

    def upstream_ok(self, name: str) -> bool:
        request = urllib.request.Request(
            self.providers[name] + "/chat/completions", data=b'{"max_tokens":1}', method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=UPSTREAM_TIMEOUT) as response:
                return int(response.status) == 200
        except (urllib.error.URLError, OSError):
            return False

    def handle(self, method: str, path: str, body: Any, authorized: bool) -> tuple[int, Any]:
        parts = path.strip("/").split("/")
        if path == "/health/completions":
            return (200, {"ok": True}) if self.upstream_ok(self.route) else (502, {"ok": False})
        self.admin.append({"method": method, "path": path, "body": body, "authorized": authorized})
        if method == "PUT" and not authorized:
            return 401, {"error": "unauthorized"}
        if parts == ["admin", "route"]:
            return self.route_call(method, body)
        if parts[:2] == ["admin", "providers"] and len(parts) >= 3 and parts[2] in self.providers:
            return self.provider_call(method, parts[2], parts[3:], body)
        return 404, {"error": f"no such endpoint: {method} {path}"}

    def route_call(self, method: str, body: Any) -> tuple[int, Any]:
        if method == "PUT":
            if body.get("provider") not in self.providers:
                return 404, {"error": f"unknown provider {body.get('provider')!r}"}
            self.route = body["provider"]
        return 200, {"provider": self.route}

    def provider_call(self, method: str, name: str, rest: list[str], body: Any) -> tuple[int, Any]:
        if rest == ["health"]:
            ok = self.upstream_ok(name)
            return (200 if ok else 503), {"name": name, "ok": ok}
        if method == "PUT":
            self.providers[name] = str(body["base_url"])
        return 200, {"name": name, "base_url": self.providers[name]}


class GatewayHandler(BaseHTTPRequestHandler):
    gateway: Gateway

    def log_message(self, *args: Any) -> None:
        return

    def answer(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}") if length else {}
        authorized = self.headers.get("Authorization") == f"Bearer {self.gateway.token}"
        code, document = self.gateway.handle(method, self.path, body, authorized)
        data = json.dumps(document).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self.answer("GET")

    def do_PUT(self) -> None:
        self.answer("PUT")


def _serve(handler: type[BaseHTTPRequestHandler]) -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


@contextmanager
def running_gateway(token: str) -> Iterator[tuple[Gateway, str, dict[str, type[Provider]]]]:
    """A gateway routed to `primary`, with providers `primary` and `fallback` up."""
    upstreams = {name: type(name, (Provider,), {"down": False}) for name in ("primary", "fallback")}
    servers = {name: _serve(handler) for name, handler in upstreams.items()}
    gateway = Gateway(token, {name: url + "/v1" for name, (_, url) in servers.items()})
    server, url = _serve(type("G", (GatewayHandler,), {"gateway": gateway}))
    try:
        yield gateway, url, upstreams
    finally:
        for each, _ in [*servers.values(), (server, url)]:
            each.shutdown()
            each.server_close()
