"""The bodies of notifications `runbook serve` no longer needs, emptied after
`retention.payloads` (serve config, 30 days): at start, then hourly, in a thread of its
own (never on a request's path), a batch per transaction.

A body is needed while any alert in it is undecided, a run it decided is queued or
running or was not escalated yet, or a proposal of it may still be approved; the
decisions themselves (`runbook triggers`) and their reasons are kept.
"""

from __future__ import annotations

import logging
import threading
import time

from engine.core.errors import EngineError
from engine.ledger import Ledger
from engine.ledger.inbox import Position

log = logging.getLogger("runbook.serve")

PRUNE_EVERY_SECONDS = 3600.0


class PayloadRetention:
    """Empties settled notifications' bodies older than `keep_seconds`, hourly."""

    def __init__(self, ledger: Ledger, keep_seconds: float) -> None:
        self.ledger = ledger
        self.keep_seconds = keep_seconds
        self.stopping = threading.Event()
        self._start: Position = (0.0, "")  # every notification before it is pruned
        self._thread = threading.Thread(target=self._loop, name="runbook-retention", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()
        if self._thread.is_alive():
            self._thread.join()

    def prune(self) -> int:
        """One pass; how many bodies were emptied."""
        before = time.time() - self.keep_seconds
        # a pass may take minutes (a large ledger, a shorter retention): a stopping
        # server ends it at the next batch, as its drain has a deadline
        pruned, self._start = self.ledger.prune_notification_payloads(
            before, self._start, stopping=self.stopping.is_set
        )
        if pruned:
            log.info("pruned the bodies of %d settled notification(s)", pruned)
        return pruned

    def _loop(self) -> None:
        while not self.stopping.is_set():
            try:
                self.prune()
            except EngineError as exc:  # the ledger: try again at the next pass
                log.error("cannot prune notification bodies: %s", exc.message)
            except Exception:  # a bug must not stop the server
                log.exception("pruning notification bodies failed")
            self.stopping.wait(PRUNE_EVERY_SECONDS)
