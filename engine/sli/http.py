"""`http` probe: the status (and optionally latency and body) of one request."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import Any

from engine.backends.http import (
    HttpError,
    Options,
    Request,
    carries_secret,
    secret_headers,
    send,
)
from engine.core.durations import format_seconds, parse_duration
from engine.core.rendering import Renderer
from engine.core.resources import Resources
from engine.sli.judge import Reading, SliVerdict
from engine.sli.registry import ProbeProblem

reads_number = False
command_fields: frozenset[str] = frozenset()
DEFAULT_TIMEOUT = 5.0
BODY_LIMIT = 1024 * 1024


def read(
    spec: Mapping[str, Any],
    render: Renderer,
    numeric: bool,
    secrets: Mapping[str, str],
    resources: Resources,
    withheld_env: frozenset[str] = frozenset(),
) -> Reading:
    timeout = parse_duration(spec["timeout"]) if "timeout" in spec else DEFAULT_TIMEOUT
    templates = spec.get("headers") or {}
    headers = {k: render.text(v) for k, v in templates.items()}
    request = Request(
        method=spec.get("method", "GET"),
        url=render.text(spec["url"]),
        headers=headers,
        secret_headers=secret_headers(templates, headers, render),
    )
    options = Options(
        timeout=timeout,
        body_limit=BODY_LIMIT,
        follow_redirects=True,  # a POST probe has no body: a 307/308 repeats it as it was
        answers=_expected(spec),
        holds_secret=carries_secret(render),
    )
    started = time.monotonic()
    try:
        response = send(request, options)
    except HttpError as exc:
        return Reading.failed(f"request failed: {exc}")
    body = response.body.decode("utf-8", "replace")
    return _judge(spec, render, response.status, body, time.monotonic() - started)


def _expected(spec: Mapping[str, Any]) -> list[int]:
    expected = spec.get("expect_status", 200)
    return [int(s) for s in expected] if isinstance(expected, list) else [int(expected)]


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
    if status not in _expected(spec):
        return f", expected {spec.get('expect_status', 200)}"
    if "max_latency" in spec and latency > parse_duration(spec["max_latency"]):
        return f", slower than {spec['max_latency']}"
    if "body_contains" in spec and render.text(spec["body_contains"]) not in body:
        return ", body does not contain the expected text"
    return ""


def problems(spec: Mapping[str, Any]) -> Iterator[ProbeProblem]:
    """A `max_latency` not shorter than the timeout: a response that slow times out first."""
    if "max_latency" not in spec:
        return
    latency = parse_duration(spec["max_latency"])
    timeout = parse_duration(spec["timeout"]) if "timeout" in spec else DEFAULT_TIMEOUT
    if latency >= timeout:
        message = (
            f"max_latency {format_seconds(latency)} is not shorter than the probe's timeout "
            f"{format_seconds(timeout)}: a response that slow times out first"
        )
        hint = f"lower max_latency, or raise timeout (default {DEFAULT_TIMEOUT:g}s) above it"
        yield ProbeProblem("max_latency", message, hint)
