"""`http` probe: the status (and optionally latency and body) of one request."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

from engine.durations import parse_duration
from engine.sli.judge import Reading, SliVerdict
from engine.steps.base import Renderer

DEFAULT_TIMEOUT = 5.0
BODY_LIMIT = 1024 * 1024


def read(spec: Mapping[str, Any], render: Renderer, numeric: bool) -> Reading:
    timeout = parse_duration(spec["timeout"]) if "timeout" in spec else DEFAULT_TIMEOUT
    request = urllib.request.Request(  # noqa: S310 - the playbook chooses the URL
        render.text(spec["url"]),
        method=spec.get("method", "GET"),
        headers={k: render.text(v) for k, v in (spec.get("headers") or {}).items()},
    )
    started = time.monotonic()
    try:
        status, body = _fetch(request, timeout)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return Reading.failed(f"request failed: {_reason(exc)}")
    return _judge(spec, render, status, body, time.monotonic() - started)


def _fetch(request: urllib.request.Request, timeout: float) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return int(response.status), response.read(BODY_LIMIT).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read(BODY_LIMIT).decode("utf-8", "replace")


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    return str(reason if reason is not None else exc)


def _judge(
    spec: Mapping[str, Any], render: Renderer, status: int, body: str, latency: float
) -> Reading:
    detail = f"HTTP {status} in {latency * 1000:.0f}ms"
    problem = _problem(spec, render, status, body, latency)
    verdict = SliVerdict.UNHEALTHY if problem else SliVerdict.HEALTHY
    return Reading(float(status), verdict=verdict, detail=f"{detail}{problem}")


def _problem(
    spec: Mapping[str, Any], render: Renderer, status: int, body: str, latency: float
) -> str:
    expected = spec.get("expect_status", 200)
    if status not in (expected if isinstance(expected, list) else [expected]):
        return f", expected {expected}"
    if "max_latency" in spec and latency > parse_duration(spec["max_latency"]):
        return f", slower than {spec['max_latency']}"
    if "body_contains" in spec and render.text(spec["body_contains"]) not in body:
        return ", body does not contain the expected text"
    return ""
