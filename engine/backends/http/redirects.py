"""Which redirects are followed, and what goes to the new address (RELIABILITY.md #11)."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable

from msgspec import structs

from engine.backends.http.model import Hop, HttpError, Options, Request, Response, is_read_only

MAX_REDIRECTS = 10
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
METHOD_KEEPING = frozenset({307, 308})
CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})
# Names that say a header carries a credential even when its value is written out in the
# playbook instead of read from `secrets` (X-Api-Key, X-Auth-Token, X-Session-Id...).
CREDENTIAL_NAME = re.compile(r"auth|token|secret|passw|session|cookie|api-?key|signature", re.I)
# Headers about the first origin that would be wrong, or identifying, at another one.
ORIGIN_HEADERS = frozenset({"host", "origin", "referer"})

Sender = Callable[[Request], tuple[int, bytes, str]]


def follow(request: Request, options: Options, send_one: Sender) -> Response:
    """Send, then follow redirects as the policy allows."""
    current, hops, seen = request, list[Hop](), [request.url]
    while True:
        status, body, location = send_one(current)
        if status not in REDIRECT_STATUSES or status in options.answers or not location:
            return Response(status, body, tuple(hops), location)
        target = _resolve(current.url, location)
        if not _should_follow(request, options):
            return _unfollowed(request, current, status, body, target, tuple(hops))
        current, withheld = _next_request(current, status, target, options)
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
    try:
        target = urllib.parse.urljoin(base, location.strip())
    except ValueError:  # e.g. an unclosed [ of an IPv6 address
        target = location
    if not is_http_url(target):
        raise HttpError(
            f"the server redirected {base} to {target!r}, which is not a valid http(s) URL"
        )
    return target


def is_http_url(url: str) -> bool:
    from urllib3.util import parse_url

    if not url.startswith(("http://", "https://")):
        return False
    try:
        return bool(parse_url(url).host)
    except ValueError:  # urllib3's LocationParseError: a bad host or port
        return False


def _next_request(
    current: Request, status: int, target: str, options: Options
) -> tuple[Request, tuple[str, ...]]:
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
    return _cross_origin(current, target, options)


def _cross_origin(
    current: Request, target: str, options: Options
) -> tuple[Request, tuple[str, ...]]:
    if current.body is not None and current.body_has_secret:
        raise HttpError(
            f"refused to follow the redirect from {current.url} to {target}: the body "
            "holds a secret and would go to another origin"
        )
    if options.holds_secret(target):
        raise HttpError(
            f"refused to follow the redirect from {current.url} to {target}: the new "
            "address holds a secret and is another origin"
        )
    withheld = tuple(name for name in current.headers if _is_withheld(current, name))
    headers = {k: v for k, v in current.headers.items() if k not in withheld}
    return structs.replace(current, url=target, headers=headers), withheld


def _is_withheld(request: Request, name: str) -> bool:
    lower = name.lower()
    if lower in CREDENTIAL_HEADERS or lower in ORIGIN_HEADERS or lower in request.secret_headers:
        return True
    return CREDENTIAL_NAME.search(lower) is not None


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
