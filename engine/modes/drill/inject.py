"""Inject a playbook's fault (`drill.inject` steps) as a recorded run of mode `drill`.

Used by `runbook demo` to set the scene; full game-day drills build on it.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec.structs

from engine.core.errors import UsageError
from engine.core.events import Listener
from engine.ledger import new_run_id
from engine.modes.run import execute_prepared
from engine.run.preflight import RunRequest, prepare
from engine.run.runner import RunResult


def inject_fault(request: RunRequest, listeners: Sequence[Listener] = ()) -> RunResult:
    """Run the inject steps only (no SLI gate); their undos run if one fails."""

    run_id = new_run_id()
    prepared = prepare(request, run_id, mode="drill")
    drill = prepared.playbook.drill
    if drill is None or not drill.inject:
        raise UsageError(f"{request.file} has no drill.inject steps")
    prepared.playbook = msgspec.structs.replace(prepared.playbook, steps=drill.inject, sli=None)
    return execute_prepared(prepared, run_id, listeners)
