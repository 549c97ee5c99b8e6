"""`prometheus` probe: an instant query over the HTTP API (`/api/v1/query`).

Only a scalar or a single-sample vector is a value. An empty vector, several series,
NaN, or an API error (`bad_data`, `execution`, `timeout`) is unknown, and the
message says which.
"""

from __future__ import annotations

import json
import urllib.parse
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
from engine.core.durations import parse_duration
from engine.core.rendering import Renderer
from engine.core.resources import Resources
from engine.sli.judge import Reading
from engine.sli.registry import ProbeProblem

DEFAULT_TIMEOUT = 5.0
BODY_LIMIT = 4 * 1024 * 1024


reads_number = True
command_fields: frozenset[str] = frozenset()


def read(
    spec: Mapping[str, Any],
    render: Renderer,
    numeric: bool,
    secrets: Mapping[str, str],
    resources: Resources,
    withheld_env: frozenset[str] = frozenset(),
) -> Reading:
    """One instant query; `bearer_token_secret` names the secret sent as the bearer token."""
    token = secrets.get(spec.get("bearer_token_secret", ""), "")
    timeout = parse_duration(spec["timeout"]) if "timeout" in spec else DEFAULT_TIMEOUT
    query = render.text(spec["query"])
    url = (
        render.text(spec["url"]).rstrip("/")
        + "/api/v1/query?"
        + urllib.parse.urlencode({"query": query, "timeout": f"{timeout:g}s"})
    )
    templates = spec.get("headers") or {}
    headers = {k: render.text(v) for k, v in templates.items()}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = Request(
        "GET", url, headers, secret_headers=secret_headers(templates, headers, render)
    )
    options = Options(timeout, BODY_LIMIT, holds_secret=carries_secret(render))
    try:
        return interpret(_get_json(request, options))
    except HttpError as exc:
        return Reading.failed(f"Prometheus did not answer: {exc}")


def _get_json(request: Request, options: Options) -> Any:
    """The response's JSON document; 400/422/503 carry an API error document too."""
    response = send(request, options)
    try:
        return json.loads(response.body)
    except ValueError:
        raise HttpError(f"HTTP {response.status}, not a JSON document") from None


def interpret(document: Any) -> Reading:
    """A query response → a value, or unknown with the reason."""
    if not isinstance(document, dict):
        return Reading.failed("Prometheus answered with something that is not a query result")
    if document.get("status") != "success":
        kind = document.get("errorType", "error")
        return Reading.failed(f"Prometheus query error ({kind}): {document.get('error', '')}")
    data = document.get("data") or {}
    result_type, result = data.get("resultType"), data.get("result")
    if result_type == "scalar":
        return _number(result)
    if result_type == "vector" and isinstance(result, list):
        return _vector(result)
    return Reading.failed(f"query returned a {result_type}; use an instant vector or scalar")


def _vector(result: list[Any]) -> Reading:
    if not result:
        return Reading.failed("query returned no series (empty vector): the metric may be absent")
    if len(result) > 1:
        return Reading.failed(
            f"query returned {len(result)} series; aggregate it (e.g. max(...), sum(...))"
        )
    return _number(result[0].get("value"), series_name(result[0].get("metric")))


def series_name(labels: Any) -> str:
    """A series' labels as Prometheus writes them (`{job="api"}`); "" for an aggregate,
    which has none."""
    if not isinstance(labels, dict) or not labels:
        return ""
    name = labels.get("__name__", "")
    pairs = ", ".join(f"{k}={json.dumps(str(v))}" for k, v in labels.items() if k != "__name__")
    return f"{name}{{{pairs}}}" if pairs else str(name)


def _number(pair: Any, detail: str = "") -> Reading:
    try:
        value = float(pair[1])
    except (TypeError, ValueError, IndexError):
        return Reading.failed(f"query returned an unreadable sample: {pair!r}")
    if value != value:  # NaN
        return Reading.failed("query returned NaN")
    return Reading(value, detail=detail)


def problems(spec: Mapping[str, Any]) -> Iterator[ProbeProblem]:
    """Nothing beyond the schema."""
    return iter(())
