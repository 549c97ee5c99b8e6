"""`runbook locks`: the targets runs hold now, and who holds them."""

from __future__ import annotations

import json
import time
from typing import Any

from msgspec.structs import asdict

from engine.core.outcome import Outcome
from engine.ledger.locks import Lease
from engine.modes.catalog import table
from engine.modes.history import open_ledger


def list_locks(output: str) -> str:
    """Held leases by target: as a table, or as JSON (a list of objects)."""
    with open_ledger() as ledger:
        leases = ledger.leases()
    now = time.time()
    if output == "json":
        return json.dumps([_record(lease, now) for lease in leases], indent=2)
    if not leases:
        return "no target is locked"
    header = ("TARGET", "RUN", "HOST", "PID", "SINCE", "EXPIRES", "EPOCH", "STATE")
    return table(header, [_cells(lease, now) for lease in leases])


def nothing_done(message: str, output: str) -> str:
    """What a command that found nothing to do says, as text or as one JSON object."""
    if output == "json":
        return json.dumps({"outcome": Outcome.COMPLETED, "message": message})
    return message


def _record(lease: Lease, now: float) -> dict[str, Any]:
    return {**asdict(lease), "state": lease.state(now)}


def _cells(lease: Lease, now: float) -> tuple[str, ...]:
    return (
        lease.target,
        lease.run_id,
        lease.host,
        str(lease.pid),
        _clock(lease.since),
        _clock(lease.expires_at),
        str(lease.epoch),
        lease.state(now),
    )


def _clock(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))
