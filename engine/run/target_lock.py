"""A run's hold on its targets: leased before step 1, renewed while the run lives,
released at its end (the leases themselves are kept by the ledger: engine.ledger.locks).

A run whose target is held by a live run is refused at once, or after waiting up to
`--wait-lock`. Every lock event (waited, taken, refused, released, lost) is recorded
with the run, so `runbook show` tells who held what.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Sequence
from typing import Any

from msgspec import UNSET

from engine.core.errors import LedgerError, UsageError
from engine.core.events import (
    LockRefused,
    LockReleased,
    LockReleaseFailed,
    LockTaken,
    LockWaited,
    Payload,
)
from engine.ledger import Ledger
from engine.ledger.locks import LEASE_SECONDS, RENEW_EVERY, Grant, Lease, normalised
from engine.model.playbook import Playbook
from engine.run.context.variables import RunVariables
from engine.run.events import EventBus
from engine.templating.redaction import Redactor
from engine.templating.render import TemplateRenderer
from engine.ui.terminal_text import printable_line

FIRST_POLL = 0.05
LAST_POLL = 1.0


def render_targets(
    playbook: Playbook, variables: RunVariables, redactor: Redactor
) -> tuple[str, ...]:
    """The run's lock keys: each `targets:` template rendered once, exactly as rendered.

    Refused (exit 2, before anything is recorded): an empty key, one with blanks around
    it or a control character (two spellings of one target would not exclude each
    other), and one holding a secret (lock keys are listed in the clear).
    """
    if not playbook.targets:
        return ()
    keys = []
    for index, template in enumerate(playbook.targets):
        key = _rendered(template, variables, redactor)
        problem = _key_problem(key, redactor)
        if problem:
            raise UsageError(
                f"{playbook.file}: targets[{index}] {template!r} renders to {problem}",
                "a target must render to a non-empty name without blanks around it, "
                "control characters or secrets, e.g. `db/{{ inputs.cluster }}`",
            )
        keys.append(key)
    return normalised(keys)


def _rendered(template: str, variables: RunVariables, redactor: Redactor) -> str:
    """A template rendered; a plain name as it is (without importing the renderer: every
    Jinja construct starts with a brace)."""
    if "{" not in template:
        return template

    return TemplateRenderer(variables.as_mapping(), redactor=redactor).text(template)


def _key_problem(key: str, redactor: Redactor) -> str:
    if not key:
        return "an empty string"
    if key != key.strip():
        return f"{key!r}, with blanks around it"
    if any(ord(char) < 32 for char in key) or printable_line(key) != key:  # C0, C1, bidi
        return f"{key!r}, with a control character"
    if redactor and redactor.redact(key) != key:
        return "a text holding a secret"
    return ""


def holder_data(lease: Lease) -> dict[str, Any]:
    """The holder of a lease, as lock events record it."""
    return {"run_id": lease.run_id, "host": lease.host, "pid": lease.pid, "since": lease.since}


class TargetLock:
    """The leases of one run: `acquire` before step 1, `lost` at each step boundary,
    `release` at the end, whatever the end.

    With `holder`, the leases are held (and renewed, and released) by that owner, a
    drill around its runs: the run checks they are still held and leaves them be.
    Without a `bus`, nothing is recorded (a drill is not a run).
    """

    def __init__(
        self,
        ledger: Ledger,
        bus: EventBus | None,
        run_id: str,
        targets: Sequence[str],
        wait: float = 0.0,
        holder: str | None = None,
    ) -> None:
        self.ledger = ledger
        self.bus = bus
        self.run_id = run_id
        self.owner = holder or run_id
        self.inherited = holder is not None
        self.targets = normalised(targets)
        self.wait = wait
        self.leases: tuple[Lease, ...] = ()
        self._lost = ""
        self._renewed = 0.0  # time.monotonic() of the last renewal that succeeded
        self._asked_at = 0.0  # time.time() when this run first asked for its leases
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    def acquire(self, cancel: threading.Event) -> str:
        """Take every target, waiting up to `wait` seconds; "" once taken (or when there
        is nothing to lock), else why not. `cancel` (Ctrl-C) ends the wait."""
        if not self.targets:
            return ""
        self._asked_at = time.time()
        started = time.monotonic()
        deadline = started + self.wait
        poll = FIRST_POLL
        waited_for: Lease | None = None
        while True:
            grant = self._take(deadline, cancel)
            if grant is None:  # the ledger was busy; there is time left to try again
                cancel.wait(poll)
                continue
            if grant.blocked_by is None:
                self._taken(grant.leases, grant.taken_over, time.monotonic() - started)
                return ""
            holder = grant.blocked_by
            left = deadline - time.monotonic()
            if left <= 0 or cancel.is_set():
                return self._refused(holder, time.monotonic() - started, cancel.is_set())
            if waited_for is None or waited_for.run_id != holder.run_id:
                self._emit(LockWaited(target=holder.target, holder=holder_data(holder)))
                waited_for = holder
            cancel.wait(min(left, poll * random.uniform(0.8, 1.2)))
            poll = min(poll * 1.5, LAST_POLL)

    def _take(self, deadline: float, cancel: threading.Event) -> Grant | None:
        """One attempt; None when the ledger could not be written and the wait goes on."""
        try:
            return self.ledger.take_leases(self.owner, self.targets)
        except LedgerError:
            if time.monotonic() >= deadline or cancel.is_set():
                raise
            return None

    def epochs(self) -> dict[str, int]:
        """The epoch of each lease held, by target."""
        return {lease.target: lease.epoch for lease in self.leases}

    def lost(self) -> str:
        """Why the run may no longer act on its targets, or "" (checked before each step)."""
        if self._lost or not self.leases:
            return self._lost
        if time.monotonic() - self._renewed > LEASE_SECONDS:  # another run may take them now
            self._lost = f"the lock on {', '.join(self.targets)} could not be renewed in time"
        return self._lost

    def release(self) -> None:
        """Stop renewing and free the leases (those another run took over stay its)."""
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join()
        leases, self.leases = self.leases, ()
        if self.inherited:  # the holder's leases stay; one this run added (a key of its own) goes
            leases = tuple(lease for lease in leases if lease.since >= self._asked_at)
        if not leases:
            return
        try:
            freed = self.ledger.release_leases(leases)
        except LedgerError as exc:  # they expire on their own: the run's outcome stands
            self._emit(LockReleaseFailed(reason=exc.message, expires_in=LEASE_SECONDS))
            return
        self._emit(LockReleased(targets=[lease.target for lease in freed]))

    def _taken(self, leases: tuple[Lease, ...], taken_over: Sequence[Lease], waited: float) -> None:
        self.leases = leases
        self._renewed = time.monotonic()
        taken = LockTaken(
            targets=list(self.targets),
            epochs={lease.target: lease.epoch for lease in leases},
            waited=round(waited, 3),
            taken_over=[
                {"target": old.target, "state": old.state(), **holder_data(old)}
                for old in taken_over
            ],
            held_by=self.owner if self.inherited else UNSET,
        )
        self._emit(taken)
        if self.inherited:  # the holder renews them
            self._renewed = float("inf")
            return
        self._renewer = threading.Thread(target=self._renew, name="lock-renewer", daemon=True)
        self._renewer.start()

    def _refused(self, holder: Lease, waited: float, cancelled: bool) -> str:
        self._emit(
            LockRefused(target=holder.target, holder=holder_data(holder), waited=round(waited, 3))
        )
        if cancelled:
            return f"interrupted while waiting for target {holder.target!r}"
        held = f"target {holder.target!r} is locked by {holder.describe()}"
        if self.wait > 0:
            return f"{held}; waited {waited:.1f}s"
        return f"{held}; `runbook locks` lists the locks, --wait-lock DURATION waits for one"

    def _renew(self) -> None:
        """Background: extend the leases every RENEW_EVERY seconds until released."""
        while not self._stop.wait(RENEW_EVERY):
            try:
                lost = self.ledger.renew_leases(self.leases)
            except LedgerError:
                continue  # a busy or full ledger: try again; `lost()` watches the clock
            if lost:
                names = ", ".join(lease.target for lease in lost)
                self._lost = f"the lock on {names} was taken over by another run"
                self.leases = tuple(lease for lease in self.leases if lease not in lost)
                return
            self._renewed = time.monotonic()

    def _emit(self, payload: Payload) -> None:
        if self.bus is not None:
            self.bus.emit(payload, self.run_id)
