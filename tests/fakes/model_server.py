"""A stand-in local LLM host: the part of Ollama's HTTP API the GPU playbook uses, and
the GPU memory it would occupy (read by the fake `nvidia-smi`).

Why a stand-in: a real model server needs a GPU and gigabytes of weights. What the
playbook relies on is the API's contract (Ollama's):

* `GET /api/ps` — the resident models, `{"models":[{"name","model","size","size_vram"}]}`
  (Go's compact JSON);
* `POST /api/generate {"model": M}` — load M (keep_alive: how long it stays; -1
  pinned), `{"model": M, "keep_alive": 0}` — unload it;
* a load whose model does not fit in the free GPU memory fails the way a runner that
  runs out of VRAM does: HTTP 500 `llama runner process has terminated: cudaMalloc
  failed: out of memory`. Nothing is evicted to make room (the fault the playbook is for).

Every load and unload is recorded with start and end times, and the highest number
of loads in flight at once, so tests can assert "unload and verify before every load"
and "one load at a time".
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

LOAD_SECONDS = 0.2


class ModelHost:
    """The server's state: one GPU, a model catalog, what is resident, what happened."""

    def __init__(self, gpu_mib: int, catalog: dict[str, int]) -> None:
        self.gpu_mib = gpu_mib
        self.catalog = catalog
        self.resident: dict[str, dict[str, Any]] = {}
        self.other_process_mib = 0  # VRAM held by something that is not this server
        self.events: list[dict[str, Any]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.lock = threading.Lock()

    def used_mib(self) -> int:
        return self.other_process_mib + sum(m["size_mib"] for m in self.resident.values())

    def ps(self) -> dict[str, Any]:
        models = [{"name": n, "model": n, "size": m["size_mib"] * 1024**2,
                   "size_vram": m["size_mib"] * 1024**2, "keep_alive": m["keep_alive"]}
                  for n, m in sorted(self.resident.items())]  # fmt: skip
        return {"models": models}

    def unload(self, model: str) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.resident.pop(model, None)
            self.events.append({"op": "unload", "model": model, "at": time.monotonic()})
        return 200, {"model": model, "response": "", "done": True, "done_reason": "unload"}

    def load(self, model: str, keep_alive: Any) -> tuple[int, dict[str, Any]]:
        if model not in self.catalog:
            return 404, {"error": f'model "{model}" not found, try pulling it first'}
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            started = time.monotonic()
        time.sleep(LOAD_SECONDS)
        with self.lock:
            self.in_flight -= 1
            fits = model in self.resident or self.used_mib() + self.catalog[model] <= self.gpu_mib
            if fits:
                self.resident[model] = {"size_mib": self.catalog[model], "keep_alive": keep_alive}
            event = {
                "op": "load",
                "model": model,
                "at": started,
                "ok": fits,
                "resident_before": sorted(self.resident) if not fits else None,
            }
            self.events.append(event)
        if not fits:
            error = "llama runner process has terminated: cudaMalloc failed: out of memory"
            return 500, {"error": error}
        return 200, {"model": model, "response": "", "done": True, "done_reason": "load"}

    def generate(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        model, keep_alive = str(body.get("model", "")), body.get("keep_alive", "5m")
        if keep_alive in (0, "0", "0s", "0m"):
            return self.unload(model)
        return self.load(model, keep_alive)


class Handler(BaseHTTPRequestHandler):
    host: ModelHost

    def log_message(self, *args: Any) -> None:
        return

    def reply(self, code: int, document: Any) -> None:
        data = json.dumps(document, separators=(",", ":")).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/api/ps":
            with self.host.lock:
                self.host.events.append({"op": "ps", "resident": sorted(self.host.resident)})
            self.reply(200, self.host.ps())
        elif self.path == "/api/tags":
            self.reply(200, {"models": [{"name": n} for n in sorted(self.host.catalog)]})
        elif self.path == "/_fake/gpu":
            apps = [{"pid": 4242 + i, "name": "ollama_llama_server", "mib": m["size_mib"]}
                    for i, m in enumerate(self.host.resident.values())]  # fmt: skip
            if self.host.other_process_mib:
                apps.append({"pid": 999, "name": "python3", "mib": self.host.other_process_mib})
            used = self.host.used_mib()
            self.reply(200, {"total": self.host.gpu_mib, "used": used, "apps": apps})
        else:
            self.reply(404, {"error": "not found"})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            self.reply(400, {"error": "invalid JSON"})
            return
        if self.path != "/api/generate" or not isinstance(body, dict):
            self.reply(404, {"error": "not found"})
            return
        self.reply(*self.host.generate(body))


def start(host: ModelHost) -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("H", (Handler,), {"host": host}))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"
