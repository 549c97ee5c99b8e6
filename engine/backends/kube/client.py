"""One API client per context per run: every call has a deadline, 429/5xx are retried
with backoff, and every failure names the verb, the object and the HTTP status.

The official client loads the kubeconfig (certificates, tokens, exec plugins) and owns
the connection pool; requests go through that pool with JSON bodies, so the same
code works across the client's major versions (whose generated models changed).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

from msgspec import Struct, field

from engine import __version__
from engine.backends.kube.config import Binding

T = TypeVar("T")
CALL_TIMEOUT = 30.0  # the longest a single request may take
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
ATTEMPTS = 4  # tries of one request on 429 / 5xx / connection refused
CONFLICT_ATTEMPTS = 5  # re-read and re-apply on 409 at most this often
JSON = "application/json"


class KubeError(Exception):
    """An API call that failed: which verb on which object, and the HTTP status."""

    def __init__(
        self,
        verb: str,
        target: str,
        status: int | None,
        message: str,
        timed_out: bool = False,
        body: Any = None,
    ) -> None:
        self.verb, self.target, self.status = verb, target, status
        self.timed_out = timed_out
        self.body = body if isinstance(body, dict) else {}  # the Status object, if any
        code = f"HTTP {status}" if status is not None else "no HTTP status"
        super().__init__(f"{verb} {target}: {code}: {message}")


class Deadline(Struct):
    """When the current action must be over (monotonic), and the run's cancel event."""

    at: float
    cancel: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def after(cls, seconds: float, cancel: threading.Event | None = None) -> Deadline:
        """A deadline `seconds` from now."""
        return cls(time.monotonic() + seconds, cancel or threading.Event())

    def remaining(self) -> float:
        """Seconds left (negative once passed)."""
        return self.at - time.monotonic()

    def call_timeout(self) -> float:
        """The timeout of the next request: what is left, at most CALL_TIMEOUT."""
        return max(0.05, min(CALL_TIMEOUT, self.remaining()))

    def sleep(self, seconds: float) -> bool:
        """Sleep up to `seconds`; False when the deadline passed or the run was cancelled."""
        if self.cancel.wait(max(0.0, min(seconds, self.remaining()))):
            return False
        return self.remaining() > 0


class KubeClient:
    """Requests against one context's API server, returning parsed JSON."""

    def __init__(self, api_client: Any, binding: Binding, attempts: int = ATTEMPTS) -> None:
        self.api_client = api_client
        self.binding = binding
        self.host = str(api_client.configuration.host).rstrip("/")
        self.attempts = attempts
        self.uid: str | None = None  # kube-system UID once read; "" when not readable
        self.cache: dict[str, Any] = {}  # discovery answers

    def call(
        self,
        method: str,
        path: str,
        deadline: Deadline,
        *,
        verb: str,
        target: str,
        query: Mapping[str, Any] | None = None,
        body: Any = None,
        content_type: str = JSON,
        retry: bool = True,
    ) -> Any:
        """One request (retried on 429/5xx); the parsed JSON (text for non-JSON bodies)."""
        for attempt in range(1, self.attempts + 1):
            _check(deadline, verb, target)
            sent = (method, path, query, body, content_type)
            status, data, retry_after = self._attempt(sent, deadline, (verb, target))
            if status is not None and status < 300:
                return _parse(data)
            tries = f" (after {attempt} attempts)" if attempt > 1 else ""
            error = KubeError(verb, target, status, _message(data) + tries, body=_parse(data))
            retryable = retry and (status is None or status in RETRY_STATUSES)
            backoff = max(retry_after, 0.25 * 2 ** (attempt - 1))
            if not retryable or attempt == self.attempts or not deadline.sleep(backoff):
                raise error
        raise AssertionError("unreachable")

    def _attempt(
        self, sent: tuple[str, str, Any, Any, str], deadline: Deadline, where: tuple[str, str]
    ) -> tuple[int | None, Any, float]:
        """(status, body, Retry-After); status None for a refused connection (nothing sent)."""
        import urllib3

        limit = deadline.call_timeout()
        try:
            response = self._send(*sent, limit)
        except urllib3.exceptions.NewConnectionError as exc:
            return None, f"cannot connect to {self.host}: {_reason(exc)}", 0.0
        except urllib3.exceptions.TimeoutError:
            message = f"no answer within {limit:.1f}s; the outcome is unknown"
            raise KubeError(*where, None, message, timed_out=True) from None
        except urllib3.exceptions.HTTPError as exc:
            raise KubeError(*where, None, f"{self.host}: {_reason(exc)}") from None
        retry_after = _retry_after(response.headers.get("Retry-After"))
        return int(response.status), response.data, retry_after

    def _send(
        self,
        method: str,
        path: str,
        query: Mapping[str, Any] | None,
        body: Any,
        content_type: str,
        limit: float,
        stream: bool = False,
    ) -> Any:
        import urllib3

        url = self.host + path + (f"?{urllib.parse.urlencode(query)}" if query else "")
        headers = {"Accept": JSON, "User-Agent": f"runbook-engine/{__version__}", **self._auth()}
        payload = None
        if body is not None:
            headers["Content-Type"] = content_type
            payload = json.dumps(body).encode()
        pool = self.api_client.rest_client.pool_manager
        timeout = urllib3.Timeout(connect=limit, read=limit)
        return pool.request(
            method, url, body=payload, headers=headers, timeout=timeout, retries=False,
            preload_content=not stream,
        )  # fmt: skip

    def _auth(self) -> dict[str, str]:
        settings = self.api_client.configuration.auth_settings()
        return {
            str(s["key"]): str(s["value"])
            for s in settings.values()
            if s.get("in") == "header" and s.get("value")
        }

    def stream(self, path: str, query: Mapping[str, Any], deadline: Deadline) -> Iterator[Any]:
        """The events of a watch request, parsed; ends when the server closes it."""
        import urllib3

        try:
            response = self._send("GET", path, query, None, JSON, deadline.call_timeout(), True)
        except urllib3.exceptions.HTTPError as exc:
            raise KubeError("watch", path, None, _reason(exc)) from None
        try:
            if response.status >= 300:
                raise KubeError("watch", path, response.status, _message(response.read()))
            yield from _lines(response)
        except urllib3.exceptions.HTTPError as exc:
            if not isinstance(exc, urllib3.exceptions.ReadTimeoutError):
                raise KubeError("watch", path, None, _reason(exc)) from None
        finally:
            response.release_conn()

    def cluster_uid(self, deadline: Deadline) -> str:
        """The UID of the kube-system namespace: what identifies this cluster."""
        found = self.call(
            "GET",
            "/api/v1/namespaces/kube-system",
            deadline,
            verb="get",
            target="namespace kube-system",
        )
        return str(found.get("metadata", {}).get("uid", ""))

    def close(self) -> None:
        """Close the connection pool."""
        self.api_client.close()


def _lines(response: Any) -> Iterator[Any]:
    buffer = b""
    for chunk in response.stream(4096, decode_content=True):
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            if line.strip():
                yield json.loads(line)


def _check(deadline: Deadline, verb: str, target: str) -> None:
    if deadline.cancel.is_set():
        raise KubeError(verb, target, None, "cancelled before the request was sent")
    if deadline.remaining() <= 0:
        raise KubeError(verb, target, None, "the step's deadline passed", timed_out=True)


def _parse(data: Any) -> Any:
    if isinstance(data, bytes):
        data = data.decode("utf-8", "replace")
    if not data:
        return {}
    try:
        return json.loads(data)
    except ValueError:
        return data


def _message(data: Any) -> str:
    parsed = _parse(data)
    if isinstance(parsed, dict):
        reason = parsed.get("reason", "")
        return f"{reason}: {parsed.get('message', '')}".strip(": ") or "no message"
    return str(parsed)[:500] or "no message"


def _reason(exc: BaseException) -> str:
    return str(getattr(exc, "reason", None) or exc)


def _retry_after(value: str | None) -> float:
    try:
        return min(5.0, float(value)) if value else 0.0
    except ValueError:
        return 0.0


def on_conflict(attempt: Callable[[], T], attempts: int = CONFLICT_ATTEMPTS) -> T:
    """Run a read-modify-write `attempt`; on 409 re-read and re-apply, at most `attempts`
    times. Never a blind overwrite: each attempt writes with the resourceVersion it read."""
    for count in range(1, attempts + 1):
        try:
            return attempt()
        except KubeError as exc:
            if exc.status != 409 or count == attempts:
                if exc.status == 409:
                    note = f"still conflicting after {count} re-reads; gave up"
                    raise KubeError(exc.verb, exc.target, 409, note) from exc
                raise
    raise AssertionError("unreachable")
