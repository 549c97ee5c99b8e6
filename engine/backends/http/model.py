"""What goes into and comes out of an HTTP exchange, and how it ends without an answer."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping

from msgspec import Struct, field

NO_ANSWER = "no response in time; the outcome is unknown"
READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class HttpError(Exception):
    """The exchange ended without an answer to judge; the message says why."""

    def __init__(self, message: str, timed_out: bool = False, cancelled: bool = False) -> None:
        super().__init__(message)
        self.timed_out = timed_out
        self.cancelled = cancelled


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


def _holds_none(text: str) -> bool:
    return False


class Options(Struct, frozen=True):
    timeout: float
    body_limit: int
    verify_tls: bool = True
    follow_redirects: bool | None = None  # None: follow for read-only methods only
    answers: Collection[int] = ()  # statuses that are the answer even when they redirect
    # Whether a text holds one of the run's secrets: a redirect target that does is not
    # followed to another origin (a server that echoes a token from the query into it).
    holds_secret: Callable[[str], bool] = _holds_none


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
