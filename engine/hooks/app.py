"""The HTTP face of `runbook serve`: Alertmanager's webhook, health, readiness, metrics.

Alertmanager retries a notification on a 5xx or a network error, and takes any other
reply as final (notify/util.go). So the webhook replies 2xx only once the notification
is committed to the ledger, 5xx only when that commit failed (its retry is then our
durability), and 4xx for what a retry cannot fix: no or wrong credentials (401), a body
over the limit (413), not JSON (415), malformed (400), a body too slow to arrive (408).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from msgspec import Struct
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from engine.core.errors import EngineError
from engine.hooks.auth import Credentials
from engine.hooks.dispatcher import Dispatcher
from engine.hooks.group_commit import GroupCommit
from engine.hooks.metrics import ServeMetrics
from engine.hooks.payload import Notification, PayloadError, decode_notification
from engine.ledger import Ledger
from engine.ledger.inbox import InboxAlert, Received

log = logging.getLogger("runbook.serve")

DEFAULT_BODY_LIMIT = 1024 * 1024  # 1 MiB: Alertmanager's largest groups fit many times
DEFAULT_BODY_SECONDS = 10.0  # a body slower than this is a slow-loris, not a sender


class Limits(Struct, frozen=True):
    body_bytes: int = DEFAULT_BODY_LIMIT
    body_seconds: float = DEFAULT_BODY_SECONDS


class Service(Struct):
    """What the routes use: the ledger, who may post, the dispatcher, the metrics."""

    ledger: Ledger
    credentials: Credentials
    dispatcher: Dispatcher
    metrics: ServeMetrics
    limits: Limits = Limits()
    drain_seconds: float = 30.0
    stop_asked_at: float | None = None  # time.monotonic() of SIGTERM or SIGINT

    def drain_left(self) -> float:
        """What is left of the drain, which starts at the signal: the requests in flight
        had their part of it first, the runs in flight get the rest."""
        if self.stop_asked_at is None:
            return self.drain_seconds
        return max(0.0, self.drain_seconds - (time.monotonic() - self.stop_asked_at))


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def create_app(service: Service) -> Starlette:
    """The ASGI application; the dispatcher starts and stops with it."""

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        service.dispatcher.start()
        try:
            yield
        finally:
            await run_in_threadpool(service.dispatcher.stop, service.drain_left())

    commits = GroupCommit(service.ledger, service.metrics)
    routes = [
        Route("/hooks/alertmanager", _alertmanager_hook(service, commits), methods=["POST"]),
        Route("/healthz", _healthz, methods=["GET"]),
        Route("/readyz", _readyz(service), methods=["GET"]),
        Route("/metrics", _metrics(service), methods=["GET"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


Endpoint = Callable[[Request], Any]


def _alertmanager_hook(service: Service, commits: GroupCommit) -> Endpoint:
    async def receive(request: Request) -> Response:
        try:
            notification, body = await _admitted(request, service)
            notification_id = await _commit(service, commits, notification, body)
        except _Refused as refused:
            return _reply(service, refused.status, {"error": refused.message}, request)
        service.dispatcher.wake.set()
        answer = {"accepted": notification_id, "alerts": len(notification.alerts)}
        return _reply(service, 200, answer, request)

    return receive


async def _admitted(request: Request, service: Service) -> tuple[Notification, bytes]:
    """The notification, once the request passed every check; _Refused otherwise."""
    if not service.credentials.allows(request.headers.get("authorization")):
        raise _Refused(401, "missing or wrong credentials")
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != "application/json":
        raise _Refused(415, "expected Content-Type: application/json")
    body = await _read_body(request, service.limits)
    try:
        return decode_notification(body), body
    except PayloadError as exc:
        raise _Refused(400, str(exc)) from None


async def _read_body(request: Request, limits: Limits) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limits.body_bytes:
        raise _Refused(413, f"body over {limits.body_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(limits.body_seconds):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limits.body_bytes:
                    raise _Refused(413, f"body over {limits.body_bytes} bytes")
                chunks.append(chunk)
    except TimeoutError:
        raise _Refused(408, f"body not received within {limits.body_seconds:g}s") from None
    return b"".join(chunks)


async def _commit(
    service: Service, commits: GroupCommit, notification: Notification, body: bytes
) -> str:
    alerts = [
        InboxAlert(a.fingerprint, a.startsAt, a.status, a.labels.get("alertname", ""))
        for a in notification.alerts
    ]
    received = Received(
        source="alertmanager",
        receiver=notification.receiver,
        group_key=notification.groupKey,
        status=notification.status,
        payload=body,
        alerts=alerts,
    )
    try:
        notification_id = await commits.accept(received)
    except EngineError as exc:
        log.error("cannot record a notification (Alertmanager will retry): %s", exc.message)
        raise _Refused(503, "cannot record the notification now; retry") from None
    for alert in notification.alerts:
        service.metrics.alerts.labels(alert.status).inc()
    return notification_id


def _reply(service: Service, status: int, body: dict[str, Any], request: Request) -> Response:
    service.metrics.requests.labels(str(status)).inc()
    if status >= 400:
        client = request.client.host if request.client else "?"
        log.warning("refused a notification from %s: %d %s", client, status, body["error"])
    headers = {"WWW-Authenticate": 'Bearer realm="runbook"'} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)


async def _healthz(_: Request) -> Response:
    return JSONResponse({"status": "ok"})


def _readyz(service: Service) -> Endpoint:
    async def readyz(request: Request) -> Response:
        deciding = service.dispatcher.alive()
        invalid = service.dispatcher.catalog.invalid_files()
        body: dict[str, Any] = {
            "ready": deciding,
            "deciding": deciding,
            "invalid_playbooks": len(invalid),
        }
        # which files: only to a caller the webhook would take (paths tell of the host)
        if service.credentials.allows(request.headers.get("authorization")):
            body["invalid_files"] = invalid
        return JSONResponse(body, status_code=200 if deciding else 503)

    return readyz


def _metrics(service: Service) -> Endpoint:
    async def metrics(_: Request) -> Response:
        return Response(service.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    return metrics
