"""`http`: one HTTP request, e.g. flip a feature flag or switch a provider to its fallback.

Reversible like any step through a declared `undo:` (another request); GET and HEAD
are read-only. The step's `timeout` bounds the whole request.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

from msgspec import Struct, field

from engine.findings import Location
from engine.steps.base import Planned, Status, StepContext, StepResult, Verdict
from engine.steps.common import captured_value

DEFAULT_TIMEOUT = 30.0
BODY_LIMIT = 4 * 1024 * 1024
SAFE_METHODS = frozenset({"GET", "HEAD"})


class HttpSpec(Struct, frozen=True):
    url: str
    method: str = "GET"
    headers: Mapping[str, str] = field(default_factory=dict)
    json_body: Any = None
    body: str | None = None
    expect_status: tuple[int, ...] = (200, 201, 202, 204)
    capture: str | None = None
    verify_tls: bool = True


def parse(body: Any, where: Location) -> HttpSpec:
    expected = body.get("expect_status")
    statuses = (200, 201, 202, 204) if expected is None else _statuses(expected)
    return HttpSpec(
        url=body["url"],
        method=str(body.get("method", "GET")).upper(),
        headers={str(k): str(v) for k, v in (body.get("headers") or {}).items()},
        json_body=body.get("json"),
        body=body.get("body"),
        expect_status=statuses,
        capture=body.get("capture"),
        verify_tls=bool(body.get("verify_tls", True)),
    )


def _statuses(expected: Any) -> tuple[int, ...]:
    return tuple(int(s) for s in expected) if isinstance(expected, list) else (int(expected),)


def is_readonly(spec: HttpSpec) -> bool:
    return spec.method in SAFE_METHODS


def undoes_itself(spec: HttpSpec) -> bool:
    return False


def plan(spec: HttpSpec, ctx: StepContext) -> Planned:
    try:
        payload = _payload(spec, ctx)
        shown = f" with {len(payload)} byte body" if payload else ""
    except UnencodableBody as exc:  # the request fails the same way, as the step's error
        shown = f" with a body that cannot be sent: {exc}"
    command = f"{spec.method} {ctx.render.text(spec.url)}{shown}"
    verdict = Verdict.NO_OP if is_readonly(spec) else Verdict.WOULD_CHANGE
    return Planned(command, readonly=is_readonly(spec), verdict=verdict)


class UnencodableBody(ValueError):
    """The rendered body holds a character UTF-8 cannot carry (an unpaired surrogate)."""


def _payload(spec: HttpSpec, ctx: StepContext) -> bytes | None:
    if spec.json_body is not None:
        return json.dumps(ctx.render.value(spec.json_body)).encode()
    if spec.body is not None:
        text = ctx.render.text(spec.body)
        try:  # a byte argv could not decode (an input) is sent as itself, as commands get it
            return text.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError as exc:
            bad = text[exc.start : exc.end]
            raise UnencodableBody(f"the body holds {bad!r}, which cannot be encoded") from None
    return None


def _request(spec: HttpSpec, ctx: StepContext) -> urllib.request.Request:
    headers = {k: ctx.render.text(v) for k, v in spec.headers.items()}
    if spec.json_body is not None:
        headers.setdefault("Content-Type", "application/json")
    url = ctx.render.text(spec.url)
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"{url!r} is not an http(s) URL")
    return urllib.request.Request(  # noqa: S310 - scheme checked above
        url, data=_payload(spec, ctx), method=spec.method, headers=headers
    )


def apply(spec: HttpSpec, ctx: StepContext) -> StepResult:
    """Send the request; an unexpected status fails, no answer in time is unknown."""
    try:
        request = _request(spec, ctx)
        status, text = _send(request, ctx.timeout or DEFAULT_TIMEOUT, spec.verify_tls)
    except UnicodeEncodeError as exc:  # in the URL or a header (the body says so itself)
        bad = exc.object[exc.start : exc.end]
        message = f"request not sent: {bad!r} cannot go in a URL or header ({exc.encoding} only)"
        return StepResult(Status.FAILED, message=message)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return _failure(exc)
    output = f"HTTP {status}\n{text[-ctx.output_cap :]}"
    if status not in spec.expect_status:
        wanted = " or ".join(map(str, spec.expect_status))
        return StepResult(Status.FAILED, status, output, f"HTTP {status}, expected {wanted}")
    value = captured_value(text) if spec.capture else None
    return StepResult(Status.SUCCEEDED, status, output, value=value)


def _failure(exc: BaseException) -> StepResult:
    reason = getattr(exc, "reason", exc)
    if isinstance(exc, TimeoutError) or isinstance(reason, TimeoutError):
        return StepResult(Status.TIMED_OUT, message="no response in time; the outcome is unknown")
    return StepResult(Status.FAILED, message=f"request failed before an answer: {reason}")


def _send(request: urllib.request.Request, timeout: float, verify: bool) -> tuple[int, str]:
    context = None if verify else ssl._create_unverified_context()  # noqa: S323 - opted out
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:  # noqa: S310
            return int(response.status), response.read(BODY_LIMIT).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read(BODY_LIMIT).decode("utf-8", "replace")


def undo(spec: HttpSpec, captured: Mapping[str, Any], ctx: StepContext) -> StepResult:
    return StepResult(Status.FAILED, message="an http step has no automatic undo; declare `undo:`")
