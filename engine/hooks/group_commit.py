"""Group commit: notifications that arrive while one commit is on disk share the next.

Each accepted notification must be durable before its reply, and a durable commit
costs an fsync. One at a time, a storm of notifications queues behind the ledger's
single writer, each waiting for all the fsyncs before its own. Here the first
notification is committed at once (no wait added when it is alone); those that arrive
meanwhile are committed together as soon as it is done, in one transaction: every
reply still follows its own notification's commit, and a failed commit fails exactly
the notifications it held (each gets its 503, and Alertmanager retries it).
"""

from __future__ import annotations

import asyncio
import time

from starlette.concurrency import run_in_threadpool

from engine.hooks.metrics import ServeMetrics
from engine.ledger import Ledger
from engine.ledger.inbox import Received

MAX_BATCH = 256  # notifications per transaction


class GroupCommit:
    """Commits notifications for the event loop's handlers, in groups."""

    def __init__(self, ledger: Ledger, metrics: ServeMetrics) -> None:
        self.ledger = ledger
        self.metrics = metrics
        self._waiting: list[tuple[Received, asyncio.Future[str]]] = []
        self._committing = False

    async def accept(self, received: Received) -> str:
        """The notification's id once it is committed (with others that came meanwhile);
        the ledger's error if that commit failed."""
        done: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._waiting.append((received, done))
        if not self._committing:
            self._committing = True
            asyncio.get_running_loop().create_task(self._commit_all())
        return await done

    async def _commit_all(self) -> None:
        try:
            while self._waiting:
                batch = self._waiting[:MAX_BATCH]
                del self._waiting[:MAX_BATCH]
                await self._commit(batch)
        finally:
            self._committing = False

    async def _commit(self, batch: list[tuple[Received, asyncio.Future[str]]]) -> None:
        started = time.perf_counter()
        try:
            ids = await run_in_threadpool(
                self.ledger.accept_notifications, [received for received, _ in batch]
            )
        except Exception as exc:  # every waiter hears of it: none is told "accepted"
            for _, done in batch:
                if not done.done():
                    done.set_exception(exc)
            return
        self.metrics.commit_seconds.observe(time.perf_counter() - started)
        for (_, done), notification_id in zip(batch, ids, strict=True):
            if not done.done():
                done.set_result(notification_id)
