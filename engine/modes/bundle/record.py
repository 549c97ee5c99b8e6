"""What the ledger holds of one run, read once for a bundle: its row, its events, and the
decision on an alert that started it with that notification's body."""

from __future__ import annotations

from msgspec import Struct, structs

from engine.core.errors import EngineError, LedgerError
from engine.core.events import EventKind
from engine.ledger import EventRow, Ledger, RunInfo, RunRow
from engine.ledger.inbox import TriggerRow
from engine.model.playbook import Playbook
from engine.playbook.loader import load_playbook

PART_LIMIT = 10_000  # the runs a drill or a run made (parts, rollbacks) read at most


class RecordedRun(Struct, frozen=True):
    """One run as recorded: `payload` is the body of the notification that started it
    ("" when none did, or when retention emptied it: `trigger` tells which)."""

    info: RunInfo
    row: RunRow
    events: list[EventRow]
    trigger: TriggerRow | None
    payload: str
    # the playbook as this engine reads the text the run recorded (else the file as it is
    # now: `playbook_read` says which, or "" when neither could be read)
    playbook: Playbook | None = None
    playbook_read: str = ""

    @property
    def source(self) -> str:
        """The playbook text the run recorded as it started ("" if it recorded none)."""
        started = self.started()
        return str(started.get("source") or "") if started else ""

    def started(self) -> dict[str, object] | None:
        """The data of the run's `run_started` event, if it has one."""
        for event in self.events:
            if event.kind == EventKind.RUN_STARTED:
                return event.data
        return None


def read_run(ledger: Ledger, run_id: str) -> RecordedRun:
    """Run `run_id` (or a unique prefix of it) as the ledger holds it."""
    info = ledger.run_info(run_id)
    events = ledger.events(info.run_id)
    trigger = _trigger(ledger, info.run_id, events)
    payload = ledger.notification_payload(trigger.notification_id) if trigger else ""
    run = RecordedRun(
        info=info,
        row=ledger.get_run(info.run_id),
        events=events,
        trigger=trigger,
        payload=payload,
    )
    playbook, read = _playbook(run)
    return structs.replace(run, playbook=playbook, playbook_read=read)


def _playbook(run: RecordedRun) -> tuple[Playbook | None, str]:
    """The run's playbook: its recorded text as this engine reads it, else the file at
    the recorded path as it is now, else none."""
    tries = [(run.source, "recorded text")] if run.source else []
    for text, read in [*tries, (None, "file as it is now")]:
        try:
            return load_playbook(run.info.file, text=text), read
        except (EngineError, OSError):
            continue
    return None, ""


def _trigger(ledger: Ledger, run_id: str, events: list[EventRow]) -> TriggerRow | None:
    """The decision on an alert behind the run: the one its `run_started` names (a run
    an alert started, or a proposal a human approved), else the `run` decision that
    names the run."""
    started = next((e.data for e in events if e.kind == EventKind.RUN_STARTED), {})
    trigger_id = started.get("trigger")
    if isinstance(trigger_id, str) and trigger_id:
        try:
            return ledger.get_trigger(trigger_id)
        except LedgerError:
            pass
    return ledger.trigger_of_run(run_id)


def runs_made_by(ledger: Ledger, run_id: str) -> list[RunRow]:
    """The runs that name `run_id` as their parent (a drill's parts, a run's rollbacks),
    oldest first."""
    rows = ledger.runs(parent_run=run_id, limit=PART_LIMIT)
    return sorted(rows, key=lambda row: (row.started_at, row.run_id))
