"""HTTP requests for the `http` step and the SLI probes, with redirects decided here.

urllib3 sends one request per hop (`redirect=False`, `retries=False`); this module
decides whether a redirect is followed (RELIABILITY.md #11):

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
from collections.abc import Callable, Collection, Mapping
from typing import TYPE_CHECKING, Any

from msgspec import Struct, field, structs

if TYPE_CHECKING:
    import urllib3

MAX_REDIRECTS = 10
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
METHOD_KEEPING = frozenset({307, 308})
READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})
# Headers about the first origin that would be wrong, or identifying, at another one.
ORIGIN_HEADERS = frozenset({"host", "origin", "referer"})
TOKEN_CHARACTERS = frozenset(
    "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)


class HttpError(Exception):
    """The exchange ended without an answer to judge; the message says why."""

    def __init__(self, message: str, timed_out: bool = False) -> None:
        super().__init__(message)
        self.timed_out = timed_out


class NotSent(HttpError):
    """The request was refused before anything went on the wire."""


class Request(Struct, frozen=True):
    """One request as the caller rendered it."""

    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None
    # Lower-cased names of headers whose value holds a secret (besides CREDENTIAL_HEADERS).
    secret_headers: frozenset[str] = frozenset()
    body_has_secret: bool = False


class Options(Struct, frozen=True):
    timeout: float
    body_limit: int
    verify_tls: bool = True
    follow_redirects: bool | None = None  # None: follow for read-only methods only
    answers: Collection[int] = ()  # statuses that are the answer even when they redirect


class Hop(Struct, frozen=True):
    """A redirect that was followed."""

    status: int
    target: str
    withheld: tuple[str, ...] = ()  # headers not sent to the target (another origin)


class Response(Struct, frozen=True):
    status: int
    body: bytes
    hops: tuple[Hop, ...] = ()
    location: str = ""  # where a final, unfollowed redirect points


def is_read_only(method: str) -> bool:
    return method.upper() in READ_ONLY_METHODS


def send(request: Request, options: Options) -> Response:
    """The final response to `request`; HttpError when there is none to judge."""
    check_sendable(request)
    request = _userinfo_as_basic_auth(request)
    deadline = time.monotonic() + options.timeout
    stop = threading.Event()
    outcome: list[Response | BaseException] = []

    def exchange() -> None:
        try:
            outcome.append(_exchange(request, options, deadline, stop))
        except BaseException as exc:  # handed to the waiting caller
            outcome.append(exc)

    worker = threading.Thread(target=exchange, name="http-request", daemon=True)
    worker.start()
    worker.join(options.timeout)
    stop.set()  # a worker still waiting sends nothing more
    if not outcome:
        raise HttpError("no response in time; the outcome is unknown", timed_out=True)
    if isinstance(outcome[0], BaseException):
        raise outcome[0]
    return outcome[0]


def check_sendable(request: Request) -> None:
    """NotSent when the URL or a header holds what HTTP cannot carry."""
    for character in request.url:
        if not "!" <= character <= "~":
            raise NotSent(
                f"request not sent: {character!r} cannot go in a URL (printable ASCII only); "
                "percent-encode it, e.g. with `| urlencode`"
            )
    if not _is_http_url(request.url):
        raise NotSent(
            f"request not sent: {request.url!r} is not a valid http(s) URL (http[s]://host[:port]/path)"
        )
    for name, value in request.headers.items():
        _check_header(name, value)


def _userinfo_as_basic_auth(request: Request) -> Request:
    """`https://user:password@host/` sends Basic credentials, as curl does, and they are
    credentials like an Authorization header: never sent to another origin."""
    import urllib.parse

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


def _exchange(
    request: Request, options: Options, deadline: float, stop: threading.Event
) -> Response:
    pools = _Pools(options.verify_tls)
    try:
        return _follow(
            request, options, lambda current: _hop(pools, current, deadline, stop, options)
        )
    finally:
        pools.clear()


Sender = Callable[[Request], tuple[int, bytes, str]]


def _follow(request: Request, options: Options, send_one: Sender) -> Response:
    """Send, then follow redirects as the policy allows."""
    current, hops, seen = request, list[Hop](), [request.url]
    while True:
        status, body, location = send_one(current)
        if status not in REDIRECT_STATUSES or status in options.answers or not location:
            return Response(status, body, tuple(hops), location)
        target = _resolve(current.url, location)
        if not _should_follow(request, options):
            return _unfollowed(request, current, status, body, target, tuple(hops))
        current, withheld = _next_request(current, status, target)
        _check_hop(seen, target)
        seen.append(target)
        hops.append(Hop(status, target, withheld))


def _should_follow(request: Request, options: Options) -> bool:
    if options.follow_redirects is None:
        return is_read_only(request.method)
    return options.follow_redirects


def _unfollowed(
    request: Request, current: Request, status: int, body: bytes, target: str, hops: tuple[Hop, ...]
) -> Response:
    """A redirect not followed: the answer of a read-only request; a mutating one fails."""
    if is_read_only(request.method):
        return Response(status, body, hops, target)
    raise HttpError(
        f"the server redirected {request.method} {current.url} to {target} (HTTP {status}), "
        "and the request was not repeated there. If the server means success by it, list "
        f"{status} in `expect_status`; to repeat the request at the new address, set "
        f"`follow_redirects: true` (307/308 only), or point `url` at {target}"
    )


def _resolve(base: str, location: str) -> str:
    import urllib.parse

    try:
        target = urllib.parse.urljoin(base, location.strip())
    except ValueError:  # e.g. an unclosed [ of an IPv6 address
        target = location
    if not _is_http_url(target):
        raise HttpError(
            f"the server redirected {base} to {target!r}, which is not a valid http(s) URL"
        )
    return target


def _is_http_url(url: str) -> bool:
    from urllib3.util import parse_url

    if not url.startswith(("http://", "https://")):
        return False
    try:
        return bool(parse_url(url).host)
    except ValueError:  # urllib3's LocationParseError: a bad host or port
        return False


def _next_request(current: Request, status: int, target: str) -> tuple[Request, tuple[str, ...]]:
    """The request repeated at `target`, without what must not go there."""
    if current.url.startswith("https://") and target.startswith("http://"):
        raise HttpError(
            f"refused to follow the redirect from {current.url} to {target}: "
            "it would leave https for plain http"
        )
    if status not in METHOD_KEEPING and not is_read_only(current.method):
        raise HttpError(
            f"the server answered {current.method} {current.url} with HTTP {status} to "
            f"{target}; following it would send a GET without the body, so the request "
            f"may not have taken effect. If the server means success by it (303 See Other "
            f"after a change), list {status} in `expect_status`; else point `url` at {target}"
        )
    if origin(current.url) == origin(target):
        return structs.replace(current, url=target), ()
    return _cross_origin(current, target)


def _cross_origin(current: Request, target: str) -> tuple[Request, tuple[str, ...]]:
    if current.body is not None and current.body_has_secret:
        raise HttpError(
            f"refused to follow the redirect from {current.url} to {target}: the body "
            "holds a secret and would go to another origin"
        )
    withheld = tuple(name for name in current.headers if _is_withheld(current, name))
    headers = {k: v for k, v in current.headers.items() if k not in withheld}
    return structs.replace(current, url=target, headers=headers), withheld


def _is_withheld(request: Request, name: str) -> bool:
    lower = name.lower()
    return lower in CREDENTIAL_HEADERS or lower in ORIGIN_HEADERS or lower in request.secret_headers


def origin(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) with the scheme's default port filled in."""
    from urllib3.util import parse_url

    parsed = parse_url(url)
    scheme = (parsed.scheme or "http").lower()
    return scheme, (parsed.host or "").lower(), parsed.port or (443 if scheme == "https" else 80)


def _check_hop(seen: list[str], target: str) -> None:
    if target in seen:
        loop = " → ".join([*seen[seen.index(target) :], target])
        raise HttpError(f"redirect loop: {loop}")
    if len(seen) > MAX_REDIRECTS:
        raise HttpError(
            f"more than {MAX_REDIRECTS} redirects, from {seen[0]} to {target}; "
            "point `url` at the final address"
        )


class _Pools:
    """One pool manager per proxy: none, or the one the environment names for a URL
    (`https_proxy`, `http_proxy`, `no_proxy`, as curl and urllib read them)."""

    def __init__(self, verify_tls: bool) -> None:
        self.verify_tls = verify_tls
        self.managers: dict[str, urllib3.PoolManager] = {}

    def for_url(self, url: str) -> urllib3.PoolManager:
        proxy = _proxy_for(url)
        if proxy not in self.managers:
            self.managers[proxy] = _manager(self.verify_tls, proxy)
        return self.managers[proxy]

    def clear(self) -> None:
        for manager in self.managers.values():
            manager.clear()


def _proxy_for(url: str) -> str:
    import urllib.request

    scheme, host, _ = origin(url)
    proxies = urllib.request.getproxies()
    if scheme not in proxies or urllib.request.proxy_bypass(host):
        return ""
    return proxies[scheme]


def _manager(verify_tls: bool, proxy: str) -> urllib3.PoolManager:
    import urllib3

    settings: dict[str, Any] = {"cert_reqs": "CERT_REQUIRED", "num_pools": 4}
    if not verify_tls:
        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)  # the step opted out
        settings.update(cert_reqs="CERT_NONE", assert_hostname=False)
    if not proxy:
        return urllib3.PoolManager(**settings)
    auth = urllib3.util.parse_url(proxy).auth
    headers = urllib3.util.make_headers(proxy_basic_auth=auth) if auth else None
    return urllib3.ProxyManager(proxy, proxy_headers=headers, **settings)


def _hop(
    pools: _Pools,
    request: Request,
    deadline: float,
    stop: threading.Event,
    options: Options,
) -> tuple[int, bytes, str]:
    """(status, body, Location) of one request, within what is left of the deadline."""
    import urllib3

    remaining = deadline - time.monotonic()
    if stop.is_set() or remaining <= 0:
        raise HttpError("no response in time; the outcome is unknown", timed_out=True)
    try:
        response = pools.for_url(request.url).request(
            request.method, request.url, body=request.body, headers=_headers(request),
            timeout=urllib3.Timeout(connect=remaining, read=remaining),
            retries=False, redirect=False, preload_content=False,
        )  # fmt: skip
        try:
            body = response.read(options.body_limit)
        finally:
            response.close()  # the rest of a long body is not read: the connection goes
    except urllib3.exceptions.HTTPError as exc:
        raise _failure(exc) from None
    return int(response.status), body, str(response.headers.get("Location") or "")


def _headers(request: Request) -> dict[str, str]:
    """The request's headers, with the engine's User-Agent unless the step sets one."""
    from engine import __version__

    headers = dict(request.headers)
    if not any(name.lower() == "user-agent" for name in headers):
        headers["User-Agent"] = f"runbook-engine/{__version__}"
    return headers


def _failure(exc: urllib3.exceptions.HTTPError) -> HttpError:
    import urllib3

    if isinstance(exc, urllib3.exceptions.TimeoutError):
        return HttpError("no response in time; the outcome is unknown", timed_out=True)
    return HttpError(f"request failed before an answer: {_reason(exc)}")


def _reason(exc: BaseException) -> str:
    reason: Any = getattr(exc, "reason", None)
    while isinstance(reason, BaseException) and getattr(reason, "reason", None) is not None:
        reason = getattr(reason, "reason")  # noqa: B009 - its type does not declare it
    return str(reason if reason is not None else exc)


def carries_secret(render: object) -> Callable[[str], bool]:
    """Whether a rendered text holds one of the run's secrets (by the renderer's redactor)."""
    from engine.secrets import Redactor

    redactor = getattr(render, "redactor", None)
    if not isinstance(redactor, Redactor) or not redactor:
        return lambda text: False
    return lambda text: redactor.redact(text) != text


def secret_headers(headers: Mapping[str, str], has_secret: Callable[[str], bool]) -> frozenset[str]:
    """Lower-cased names of the headers whose rendered value holds a secret."""
    return frozenset(name.lower() for name, value in headers.items() if has_secret(value))
