"""uvicorn's HTTP/1.1 protocol (h11), with a deadline on each request's head.

uvicorn closes a connection idle between requests (keep-alive timeout) but waits
forever for the headers of a request that has begun: a client that opens connections
and sends half a header each would hold every file descriptor the server has
(slow-loris) while Alertmanager's notifications wait. Here a connection whose request
head is not complete `head_seconds` after the connection opened (or after its last
response) is closed. The body has its own deadline in the application (408).
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.h11_impl import H11Protocol

DEFAULT_HEAD_SECONDS = 10.0


class HeadDeadlineProtocol(H11Protocol):
    """H11Protocol that closes a connection whose request head is too slow."""

    head_seconds = DEFAULT_HEAD_SECONDS
    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def handle_events(self) -> None:
        super().handle_events()
        if self._in_request():
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm()

    def _in_request(self) -> bool:
        return self.cycle is not None and not self.cycle.response_complete

    def _arm(self) -> None:
        self._disarm()
        self._head_timer = self.loop.call_later(self.head_seconds, self._head_too_slow)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if not self._in_request() and not self.transport.is_closing():
            self.transport.close()


def with_head_deadline(seconds: float) -> type[HeadDeadlineProtocol]:
    """The protocol class with its deadline set (uvicorn makes one instance a connection)."""
    return type("HeadDeadline", (HeadDeadlineProtocol,), {"head_seconds": seconds})
