"""HTTP requests for the `http` step and the SLI probes, with redirects decided here.

urllib3 sends one request per hop (`redirect=False`, `retries=False`, in
`transport`); `redirects` decides whether a redirect is followed (RELIABILITY.md #11):

* credentials (Authorization, Proxy-Authorization, Cookie and any header whose value
  holds a secret) never go to another origin (scheme, host, port), and a body that
  holds a secret is not sent there at all;
* https is never downgraded to http;
* a mutating request (not GET, HEAD or OPTIONS) is followed only when the caller
  allows it, and then only through 307/308, which keep the method and the body: a
  301/302/303 would turn it into a GET without its body, so it fails instead;
* at most `MAX_REDIRECTS` hops, and a loop is named as one.

A redirect status the caller lists among its answers is the answer, not followed.
The timeout bounds the whole exchange, every hop and the body included.
"""

from __future__ import annotations

import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

from msgspec import structs

from engine.backends.http.model import (
    NO_ANSWER,
    Hop,
    HttpError,
    NotSent,
    Options,
    Request,
    Response,
    is_read_only,
)
from engine.backends.http.redirects import MAX_REDIRECTS, is_http_url
from engine.backends.http.transport import exchange
from engine.templating.redaction import Redactor
from engine.templating.render import template_references

__all__ = [
    "MAX_REDIRECTS",
    "Hop",
    "HttpError",
    "NotSent",
    "Options",
    "Request",
    "Response",
    "carries_secret",
    "check_sendable",
    "is_read_only",
    "reads_secrets",
    "secret_headers",
    "send",
]

CANCEL_POLL = 0.05  # seconds: how soon an abort ends the wait
TOKEN_CHARACTERS = frozenset(
    "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)


def send(request: Request, options: Options, cancel: threading.Event | None = None) -> Response:
    """The final response to `request`; HttpError when there is none to judge. Setting
    `cancel` (an abort of the run) ends the wait at once, the outcome unknown."""
    check_sendable(request)
    request = _userinfo_as_basic_auth(request)
    deadline = time.monotonic() + options.timeout
    stop, done = threading.Event(), threading.Event()
    outcome: list[Response | BaseException] = []

    def run() -> None:
        try:
            outcome.append(exchange(request, options, deadline, stop))
        except BaseException as exc:  # handed to the waiting caller
            outcome.append(exc)
        finally:
            done.set()

    threading.Thread(target=run, name="http-request", daemon=True).start()
    _wait(done, deadline, cancel)
    stop.set()  # a worker still waiting sends nothing more
    if not outcome:
        cancelled = cancel is not None and cancel.is_set()
        raise HttpError(
            "cancelled; the outcome is unknown" if cancelled else NO_ANSWER,
            timed_out=not cancelled,
            cancelled=cancelled,
        )
    if isinstance(outcome[0], BaseException):
        raise outcome[0]
    return outcome[0]


def _wait(done: threading.Event, deadline: float, cancel: threading.Event | None) -> None:
    """Until the exchange is done, the deadline passes or `cancel` is set."""
    while (remaining := deadline - time.monotonic()) > 0:
        if done.wait(min(remaining, CANCEL_POLL)) or (cancel is not None and cancel.is_set()):
            return


def check_sendable(request: Request) -> None:
    """NotSent when the URL or a header holds what HTTP cannot carry."""
    for character in request.url:
        if not "!" <= character <= "~":
            raise NotSent(
                f"request not sent: {character!r} cannot go in a URL (printable ASCII only); "
                "percent-encode it, e.g. with `| urlencode`"
            )
    if not is_http_url(request.url):
        shape = "http[s]://host[:port]/path"
        raise NotSent(f"request not sent: {request.url!r} is not a valid http(s) URL ({shape})")
    for name, value in request.headers.items():
        _check_header(name, value)


def _userinfo_as_basic_auth(request: Request) -> Request:
    """`https://user:password@host/` sends Basic credentials, as curl does, and they are
    credentials like an Authorization header: never sent to another origin."""

    from urllib3.util import make_headers, parse_url

    parsed = parse_url(request.url)
    if not parsed.auth:
        return request
    if any(name.lower() == "authorization" for name in request.headers):
        raise NotSent("request not sent: the URL holds credentials and an Authorization header")
    basic = make_headers(basic_auth=urllib.parse.unquote(parsed.auth))["authorization"]
    url = parsed._replace(auth=None).url
    return structs.replace(request, url=url, headers={**request.headers, "Authorization": basic})


def _check_header(name: str, value: str) -> None:
    if not name or not set(name) <= TOKEN_CHARACTERS:
        raise NotSent(f"request not sent: {name!r} is not a valid header name")
    for character in value:
        if character in "\r\n\0":
            raise NotSent(f"request not sent: header {name} holds {character!r}")
        if ord(character) > 255:
            raise NotSent(
                f"request not sent: {character!r} cannot go in a URL or header (latin-1 only)"
            )


def carries_secret(render: object) -> Callable[[str], bool]:
    """Whether a rendered text holds one of the run's secrets (by the renderer's redactor)."""

    redactor = getattr(render, "redactor", None)
    if not isinstance(redactor, Redactor) or not redactor:
        return lambda text: False
    return lambda text: redactor.redact(text) != text


def reads_secrets(template: Any) -> bool:
    """Whether a template (or any string in nested data) reads `secrets`: a secret in a
    form the redactor does not know (reversed, hashed, encoded) is still one."""
    if isinstance(template, str):
        return "{" in template and any(ref[0] == "secrets" for ref in _references(template))
    if isinstance(template, Mapping):
        return any(reads_secrets(value) for value in template.values())
    if isinstance(template, list | tuple):
        return any(reads_secrets(item) for item in template)
    return False


def _references(template: str) -> set[tuple[str, ...]]:
    return {tuple(ref) for ref in template_references(template)}


def secret_headers(
    templates: Mapping[str, str], rendered: Mapping[str, str], render: object
) -> frozenset[str]:
    """Lower-cased names of the headers that carry a secret: their template reads one, or
    their rendered value holds one."""
    has_secret = carries_secret(render)
    return frozenset(
        name.lower()
        for name, value in rendered.items()
        if has_secret(value) or reads_secrets(templates.get(name, ""))
    )
