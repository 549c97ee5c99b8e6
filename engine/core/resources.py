"""A run's connections, opened once per target and closed at the end of the run."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class Resources:
    """Per-run cache of connections (one SSH transport per host, one API client per context)."""

    def __init__(self) -> None:
        self._items: dict[str, Any] = {}
        self._closers: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    def get(self, key: str, create: Callable[[], Any], close: Callable[[Any], None]) -> Any:
        with self._lock:
            if key not in self._items:
                item = create()
                self._items[key] = item
                self._closers.append(lambda: close(item))
            return self._items[key]

    def close_all(self) -> None:
        for closer in reversed(self._closers):
            try:
                closer()
            except Exception:  # noqa: S112 - closing is best effort
                continue
        self._closers.clear()
        self._items.clear()
