"""One request on the wire per hop, through urllib3, within a deadline."""

from __future__ import annotations

import threading
import time
import urllib.request
from typing import TYPE_CHECKING, Any

from engine import __version__
from engine.backends.http.model import NO_ANSWER, HttpError, Options, Request, Response
from engine.backends.http.redirects import follow, origin

if TYPE_CHECKING:
    import urllib3


def exchange(
    request: Request, options: Options, deadline: float, stop: threading.Event
) -> Response:
    """`request` and the redirects it is allowed to follow; nothing sent once `stop` is set."""
    pools = _Pools(options.verify_tls)
    try:
        return follow(
            request, options, lambda current: _hop(pools, current, deadline, stop, options)
        )
    finally:
        pools.clear()


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
        raise HttpError(NO_ANSWER, timed_out=True)
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

    headers = dict(request.headers)
    if not any(name.lower() == "user-agent" for name in headers):
        headers["User-Agent"] = f"runbook-engine/{__version__}"
    return headers


def _failure(exc: urllib3.exceptions.HTTPError) -> HttpError:
    import urllib3

    if isinstance(exc, urllib3.exceptions.TimeoutError):
        return HttpError(NO_ANSWER, timed_out=True)
    return HttpError(f"request failed before an answer: {_reason(exc)}")


def _reason(exc: BaseException) -> str:
    reason: Any = getattr(exc, "reason", None)
    while isinstance(reason, BaseException) and getattr(reason, "reason", None) is not None:
        reason = getattr(reason, "reason")  # noqa: B009 - its type does not declare it
    return str(reason if reason is not None else exc)
