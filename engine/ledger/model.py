"""What the ledger stores and returns, independent of the database behind it.

Also here: where the ledger lives, how run ids are made, and how the owner of a
run is recognised (pid + process start time, so a reused pid is not mistaken
for the engine that started the run).
"""

from __future__ import annotations

import base64
import json
import os
import re
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import msgspec
from msgspec import Struct

from engine.core.errors import LedgerError
from engine.core.outcome import Outcome
from engine.core.run_modes import RUN_MODES

LEDGER_FILE = "ledger.sqlite3"
RUNNING = "running"
INTERRUPTED = Outcome.INTERRUPTED.value
MODES = frozenset(RUN_MODES)
OUTCOMES = frozenset(outcome.value for outcome in Outcome)  # a run's status once it ended


def default_home() -> Path:
    """The engine's state folder: `$RUNBOOK_HOME`, else the XDG state folder."""
    explicit = os.environ.get("RUNBOOK_HOME")
    if explicit:
        return Path(explicit).expanduser()
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state).expanduser() / "runbook-engine"


_id_lock = threading.Lock()
_last_id_ms = 0


def _next_millisecond() -> int:
    # Strictly increasing within a process, even if the clock steps back.
    global _last_id_ms
    with _id_lock:
        _last_id_ms = max(time.time_ns() // 1_000_000, _last_id_ms + 1)
        return _last_id_ms


def new_run_id() -> str:
    """A new run id like `r20250101T120000123-k3q9zx`: lexical order is creation order."""
    return new_id("r")


def new_drill_id() -> str:
    """A new drill id like `d20250101T120000123-k3q9zx`: a run id's format, its own letter."""
    return new_id("d")


def is_drill_id(text: str) -> bool:
    """Whether `text` is (the start of) a drill id rather than a run id."""
    return bool(_DRILL_ID.match(text))


_DRILL_ID = re.compile(r"d(\d|\Z)")


def new_id(letter: str) -> str:
    """A new id: `letter`, the UTC time to the millisecond, a random suffix (lexical
    order is creation order within a process)."""
    ms = _next_millisecond()
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(ms // 1000))
    suffix = base64.b32encode(os.urandom(5)).decode("ascii")[:6].lower()
    return f"{letter}{stamp}{ms % 1000:03d}-{suffix}"


class RunInfo(Struct, frozen=True):
    """Everything known about a run when it starts; `inputs` are already redacted."""

    run_id: str
    playbook: str
    version: str
    content_hash: str
    file: str
    mode: str
    inputs: dict[str, Any]
    operator: str
    host: str
    engine_version: str
    started_at: float
    parent_run: str | None = None
    # the content hash without `metadata.maturity`, and the declared level, of the file run
    evidence_hash: str | None = None
    maturity: int | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown run mode {self.mode!r} (one of {sorted(MODES)})")

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> RunInfo:
        """Rebuild from a stored row (extra columns ignored, `inputs` as JSON text)."""
        return cls(**_fields_of(cls, record, inputs=from_json(record["inputs"])))


class RunRow(Struct, frozen=True):
    """One run as listed: its identity, status and, once finished, its summary."""

    run_id: str
    playbook: str
    version: str
    content_hash: str
    mode: str
    status: str
    operator: str
    host: str
    started_at: float
    finished_at: float | None
    summary: dict[str, Any]
    parent_run: str | None = None
    evidence_hash: str | None = None  # None: recorded before ledger schema v4
    maturity: int | None = None

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> RunRow:
        """Build from a stored row (extra columns ignored, `summary` as JSON text)."""
        return cls(**_fields_of(cls, record, summary=from_json(record["summary"])))


class DrillEnd(Struct, frozen=True):
    """How a drill ended: its verdict, timings (seconds after the injection), the runs
    it was made of, and its whole report as `runbook drill --output json` printed it."""

    verdict: str
    detected_after: float | None
    recovered_after: float | None
    inject_run: str | None
    remediate_run: str | None
    revert_run: str | None
    report: dict[str, Any]


class DrillRow(Struct, frozen=True):
    """One drill as listed: the playbook it exercised, how it went, and its runs.

    `status` is the drill's own run row's (`running`, `interrupted` or the outcome its
    verdict maps to); `verdict` and what follows are None until the drill ended."""

    drill_id: str
    playbook: str  # its name; its file when the name could not be read
    version: str
    content_hash: str
    file: str  # the playbook file (resolved)
    status: str
    started_at: float
    finished_at: float | None
    verdict: str | None
    detected_after: float | None
    recovered_after: float | None
    inject_run: str | None
    remediate_run: str | None
    revert_run: str | None
    report: dict[str, Any]

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> DrillRow:
        """Build from a stored row (`report` as JSON text)."""
        return cls(**_fields_of(cls, record, report=from_json(record["report"])))


class EventRow(Struct, frozen=True):
    """One event of a run, numbered from 1 in the order it was recorded."""

    seq: int
    ts: float
    kind: str
    step_id: str | None
    data: dict[str, Any]

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> EventRow:
        """Build from a stored row (`data` as JSON text)."""
        return cls(**_fields_of(cls, record, data=from_json(record["data"])))


def _fields_of(cls: type[Any], record: Mapping[str, Any], **decoded: Any) -> dict[str, Any]:
    """The values of `record` that are fields of Struct `cls`, with `decoded` replacing some."""
    names = cls.__struct_fields__  # msgspec's own tuple: `fields()` re-reads annotations
    return {name: decoded[name] if name in decoded else record[name] for name in names}


# msgspec writes an event in about 0.5 µs, the json module in about 4. Where they differ
# (a float that is not a number is null; a set, a Struct or bytes keep their shape), the
# text is still valid JSON that `from_json` reads. What msgspec refuses, a lone surrogate
# (argv and environment values keep undecodable bytes as one), the json module writes as
# an escape: SQLite cannot store it raw.
_FAST_ENCODER = msgspec.json.Encoder(enc_hook=str)
_ENCODER = json.JSONEncoder(default=str, ensure_ascii=True, separators=(",", ":"))


def to_json(data: Mapping[str, Any]) -> str:
    """Encode event data or a summary; values JSON cannot hold become strings."""
    try:
        return _FAST_ENCODER.encode(dict(data)).decode()
    except (TypeError, ValueError, OverflowError):
        return _ENCODER.encode(dict(data))


def from_json(text: str | None) -> dict[str, Any]:
    """Decode what `to_json` wrote (NULL reads as an empty dict)."""
    if not text:
        return {}
    value = json.loads(text)
    return value if isinstance(value, dict) else {"value": value}


def no_such_run(run_id: str) -> LedgerError:
    """The error for a run id (or prefix) that names no run."""
    return LedgerError(f"no run {run_id!r} in the ledger", hint="`runbook runs` lists them")


def no_such_drill(drill_id: str) -> LedgerError:
    """The error for a drill id (or prefix) that names no drill."""
    return LedgerError(f"no drill {drill_id!r} in the ledger", hint="`runbook drills` lists them")


def pick_run_id(prefix: str, matches: Sequence[str]) -> str:
    """The one run id among `matches` (ids starting with `prefix`, sorted) that `prefix` means.

    An exact id wins; otherwise the prefix must match exactly one run.
    """
    if prefix and prefix in matches:
        return prefix
    if not prefix or not matches:
        raise no_such_run(prefix)
    if len(matches) > 1:
        shown = ", ".join(matches[:5]) + (", …" if len(matches) > 5 else "")
        raise LedgerError(
            f"run id {prefix!r} is ambiguous: {shown}", hint="give more characters of the id"
        )
    return matches[0]


_PROC = Path("/proc")


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state, start time in clock ticks since boot) from /proc/<pid>/stat, or None."""
    try:
        text = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses: split after it.
    fields = text.rsplit(")", 1)[-1].split()
    try:
        return fields[0], int(fields[19])  # fields 3 (state) and 22 (starttime)
    except (IndexError, ValueError):
        return None


def process_start_time(pid: int) -> int | None:
    """When process `pid` started (opaque ticks), or None without /proc."""
    stat = _proc_stat(pid)
    return stat[1] if stat else None


def host_name() -> str:
    """This machine's name, as `socket.gethostname()` gives it (without importing socket)."""
    return os.uname().nodename


def _signal_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def process_alive(pid: int, start_time: int | None) -> bool:
    """Whether the process that had `pid` and `start_time` still runs on this host.

    A zombie counts as gone, and so does a live process whose start time differs
    (the pid was reused). Without /proc only "some process has this pid" is checked.
    """
    if pid <= 0:
        return False
    if not (_PROC / "self" / "stat").exists():
        return _signal_alive(pid)
    stat = _proc_stat(pid)
    if stat is None or stat[0] in ("Z", "X"):
        return False
    return start_time is None or stat[1] == start_time
