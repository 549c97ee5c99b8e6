"""`http`: one HTTP request, e.g. flip a feature flag or switch a provider to its fallback.

Reversible like any step through a declared `undo:` (another request); GET and HEAD
are read-only. The step's `timeout` bounds the whole request. Redirects follow the
rules of `engine.backends.http`: credentials stay with their origin, https is never left
for http, and a redirected change fails unless `follow_redirects: true` (307/308 only)
or `expect_status` lists the redirect as the answer.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from msgspec import Struct, field

from engine.backends.command_result import captured_value
from engine.backends.http import (
    HttpError,
    Options,
    Request,
    Response,
    carries_secret,
    reads_secrets,
    secret_headers,
    send,
)
from engine.core.findings import Location
from engine.core.results import Planned, Status, StepResult, Verdict
from engine.steps.base import DEFAULT_STEP_TIMEOUT, Detail, StepContext

DEFAULT_TIMEOUT = 30.0
BODY_LIMIT = 4 * 1024 * 1024
SAFE_METHODS = frozenset({"GET", "HEAD"})


needs_human = False
default_timeout: float | None = DEFAULT_STEP_TIMEOUT
probed = True
command_fields: frozenset[str] = frozenset()
stdin_fields: frozenset[str] = frozenset()


class HttpSpec(Struct, frozen=True):
    url: str
    method: str = "GET"
    headers: Mapping[str, str] = field(default_factory=dict)
    json_body: Any = None
    body: str | None = None
    expect_status: tuple[int, ...] = (200, 201, 202, 204)
    capture: str | None = None
    verify_tls: bool = True
    follow_redirects: bool | None = None  # None: GET and HEAD follow, other methods do not


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
        follow_redirects=_optional_flag(body.get("follow_redirects")),
    )


def _optional_flag(value: Any) -> bool | None:
    return None if value is None else bool(value)


def _statuses(expected: Any) -> tuple[int, ...]:
    return tuple(int(s) for s in expected) if isinstance(expected, list) else (int(expected),)


def is_readonly(spec: HttpSpec) -> bool:
    return spec.method in SAFE_METHODS


def undoes_itself(spec: HttpSpec) -> bool:
    return False


def capture_name(spec: HttpSpec) -> str | None:
    return spec.capture


def expectation(spec: HttpSpec) -> str:
    return ""


def plan(spec: HttpSpec, ctx: StepContext) -> Planned:
    try:
        payload = _payload(spec, ctx)
        shown = f" with {len(payload)} byte body" if payload else ""
    except UnencodableBody as exc:  # the request fails the same way, as the step's error
        shown = f" with a body that cannot be sent: {exc}"
    command = f"{spec.method} {ctx.render.text(spec.url)}{shown}{_redirect_note(spec)}"
    verdict = Verdict.NO_OP if is_readonly(spec) else Verdict.WOULD_CHANGE
    return Planned(command, readonly=is_readonly(spec), verdict=verdict)


def details(spec: HttpSpec, ctx: StepContext) -> list[Detail]:
    """The headers the request would carry (the JSON content type included) and its
    body, rendered."""
    shown = []
    headers = _headers(spec, ctx)
    if headers:
        shown.append(Detail("headers", "\n".join(f"{k}: {v}" for k, v in headers.items())))
    if spec.json_body is not None:
        shown.append(Detail("body", json.dumps(ctx.render.value(spec.json_body), indent=2)))
    elif spec.body is not None:
        shown.append(Detail("body", ctx.render.text(spec.body)))
    return shown


def _redirect_note(spec: HttpSpec) -> str:
    """What `plan` says of redirects when the step chose other than its method's default."""
    if spec.follow_redirects is None or spec.follow_redirects is is_readonly(spec):
        return ""
    return ", following 307/308 redirects" if spec.follow_redirects else ", no redirects"


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


def _request(spec: HttpSpec, ctx: StepContext) -> Request:
    headers = _headers(spec, ctx)
    body = _payload(spec, ctx)
    return Request(
        method=spec.method,
        url=ctx.render.text(spec.url),
        headers=headers,
        body=body,
        secret_headers=secret_headers(spec.headers, headers, ctx.render),
        body_has_secret=body is not None and _body_has_secret(spec, body, ctx),
    )


def _headers(spec: HttpSpec, ctx: StepContext) -> dict[str, str]:
    headers = {k: ctx.render.text(v) for k, v in spec.headers.items()}
    if spec.json_body is not None and not any(k.lower() == "content-type" for k in headers):
        headers["Content-Type"] = "application/json"
    return headers


def _body_has_secret(spec: HttpSpec, body: bytes, ctx: StepContext) -> bool:
    if reads_secrets(spec.json_body) or reads_secrets(spec.body):
        return True
    return carries_secret(ctx.render)(body.decode("utf-8", "replace"))


def apply(spec: HttpSpec, ctx: StepContext) -> StepResult:
    """Send the request; an unexpected status fails, no answer in time is unknown."""
    options = Options(
        timeout=ctx.timeout or DEFAULT_TIMEOUT,
        body_limit=BODY_LIMIT,
        verify_tls=spec.verify_tls,
        follow_redirects=spec.follow_redirects,
        answers=spec.expect_status,
        holds_secret=carries_secret(ctx.render),
    )
    try:
        response = send(_request(spec, ctx), options, ctx.cancel)
    except UnencodableBody as exc:
        return StepResult(Status.FAILED, message=f"request not sent: {exc}")
    except HttpError as exc:
        return StepResult(_status(exc), message=str(exc))
    return _result(spec, response, ctx.output_cap)


def _status(error: HttpError) -> Status:
    if error.cancelled:
        return Status.UNKNOWN
    return Status.TIMED_OUT if error.timed_out else Status.FAILED


def _result(spec: HttpSpec, response: Response, output_cap: int) -> StepResult:
    status, text = response.status, response.body.decode("utf-8", "replace")
    output = f"{_redirects(response)}HTTP {status}\n{text[-output_cap:]}"
    if status not in spec.expect_status:
        wanted = " or ".join(map(str, spec.expect_status))
        moved = f" (a redirect to {response.location}, not followed)" if response.location else ""
        message = f"HTTP {status}{moved}, expected {wanted}{_withheld_note(response)}"
        return StepResult(Status.FAILED, status, output, message)
    value = captured_value(text) if spec.capture else None
    return StepResult(Status.SUCCEEDED, status, output, value=value)


def _withheld_note(response: Response) -> str:
    """Why a server that was redirected to may have refused: it got no credentials."""
    withheld = [hop for hop in response.hops if hop.withheld]
    if not withheld:
        return ""
    hop = withheld[-1]
    return (
        f"; {', '.join(hop.withheld)} not sent to {hop.target}, another origin "
        "(point `url` there if it is meant to have them)"
    )


def _redirects(response: Response) -> str:
    """One line per redirect followed, naming the headers kept from another origin."""
    lines = []
    for hop in response.hops:
        withheld = (
            f" ({', '.join(hop.withheld)} not sent to another origin)" if hop.withheld else ""
        )
        lines.append(f"HTTP {hop.status} redirect to {hop.target}{withheld}\n")
    return "".join(lines)


def undo(spec: HttpSpec, captured: Mapping[str, Any], ctx: StepContext) -> StepResult:
    return StepResult(Status.FAILED, message="an http step has no automatic undo; declare `undo:`")
