"""The durable record of runs: what started, every intent and result, how it ended.

Event-sourced and generic: the ledger stores events of any kind and knows
nothing about step types. `Ledger` is the SQLite ledger (the default).
"""

from __future__ import annotations

from engine.ledger.evidence import Content
from engine.ledger.locks import Grant, Lease
from engine.ledger.model import (
    LEDGER_FILE,
    MODES,
    OUTCOMES,
    DrillEnd,
    DrillRow,
    EventRow,
    RunInfo,
    RunRow,
    default_home,
    host_name,
    is_drill_id,
    new_drill_id,
    new_run_id,
    process_alive,
)
from engine.ledger.sqlite import (
    SCHEMA_VERSION,
    EventSpec,
    Ledger,
    VersionReused,
    recorded_with_other_content,
)

__all__ = [
    "LEDGER_FILE",
    "MODES",
    "OUTCOMES",
    "SCHEMA_VERSION",
    "Content",
    "DrillEnd",
    "DrillRow",
    "EventRow",
    "EventSpec",
    "Grant",
    "Lease",
    "Ledger",
    "RunInfo",
    "RunRow",
    "VersionReused",
    "default_home",
    "host_name",
    "is_drill_id",
    "new_drill_id",
    "new_run_id",
    "process_alive",
    "recorded_with_other_content",
]
