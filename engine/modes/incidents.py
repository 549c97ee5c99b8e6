"""`runbook incident …` and `runbook incidents`: open, note, time, attach and resolve
incidents; list them; tell one whole (`runbook show INCIDENT_ID`)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

from engine.core.errors import EngineError, UsageError
from engine.core.events import Event, EventKind
from engine.ledger.incident_record import IncidentAlert, IncidentRecord
from engine.ledger.incident_times import (
    DETECTED,
    LABELS,
    MITIGATED,
    RESOLVED,
    TIMES,
    parse_time,
    rfc3339,
)
from engine.modes.catalog import table
from engine.modes.history import open_ledger
from engine.ui.operator import operator_name
from engine.ui.terminal_text import printable_line

_SEVERITY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}\Z")
_INCIDENT_ID = re.compile(r"i(\d|\Z)")
TEXT_LIMIT = 10_000


def is_incident_id(text: str) -> bool:
    """Whether `text` is (the start of) an incident id (`i20261207T…`)."""
    return bool(_INCIDENT_ID.match(text))


def open_incident(title: str, severity: str, playbook: str) -> str:
    """Open an incident by hand; what to print."""
    title = _text("--title", title)
    if severity and not _SEVERITY.match(severity):
        raise UsageError(
            f"--severity: {severity!r} is not a severity",
            "a word of letters, digits, '-', '_' or '.', e.g. critical or sev2",
        )
    with open_ledger() as ledger:
        incident_id = ledger.open_incident(
            title, operator_name(), severity=severity, playbook=playbook
        )
    return f"opened incident {incident_id}"


def note(incident_id: str, text: str) -> str:
    """A human's note on an incident."""
    text = _text("TEXT", text)
    with open_ledger() as ledger:
        found, _ = ledger.note_incident(incident_id, operator_name(), text)
    return f"noted on incident {found}"


def set_times(incident_id: str, given: dict[str, str | None], clear: Sequence[str] = ()) -> str:
    """Set lifecycle times as a human (`given`: time name to `now` or RFC 3339), after
    taking back the human times named in `clear` (the record's apply again)."""
    now = time.time()
    changes = {
        name: parse_time(f"--{name.replace('_', '-')}", text, now)
        for name, text in given.items()
        if text is not None
    }
    both = sorted(set(changes) & set(clear))
    if both:
        raise UsageError(
            f"{LABELS[both[0]]} is both set and cleared", "give it a time or --clear it, not both"
        )
    if not changes and not clear:
        options = ", ".join(f"--{name.replace('_', '-')}" for name in TIMES)
        raise UsageError(
            "no time to set",
            f"give one or more of {options} (T: RFC 3339 or now), or --clear NAME",
        )
    with open_ledger() as ledger:
        record = ledger.set_incident_times(incident_id, changes, clear)
    return "\n".join([f"incident {record.incident_id}: {record.status}", *_time_lines(record)])


def resolve(incident_id: str, at: str) -> str:
    """Resolve an incident as a human, at `at` (`now` or RFC 3339); one already resolved
    keeps its time (`set --resolved` corrects it)."""
    when = parse_time("--at", at)
    with open_ledger() as ledger:
        record, now_resolved = ledger.resolve_incident(incident_id, when)
    if not now_resolved:
        found = record.times[RESOLVED]
        at_text = rfc3339(found.at) if found.at is not None else "-"
        return (
            f"incident {record.incident_id} is already resolved at {at_text} ({found.source}):"
            f" nothing changed (runbook incident set {record.incident_id} --resolved T"
            " corrects the time)"
        )
    return "\n".join([f"incident {record.incident_id}: {record.status}", *_time_lines(record)])


def attach(incident_id: str, run_id: str) -> str:
    """Make a run a member of an incident."""
    with open_ledger() as ledger:
        found, run, new = ledger.attach_run(incident_id, run_id, operator_name())
    return f"{'attached' if new else 'already attached:'} run {run} to incident {found}"


def existing_incident(incident_id: str) -> str:
    """The full id of the incident `incident_id` names (`--incident` of run and drill:
    checked before anything runs); LedgerError (exit 2) when there is none."""
    with open_ledger() as ledger:
        return ledger.incident(incident_id).incident_id


class AttachToIncident:
    """A run's listener (`--incident ID`): when the run starts (its row is recorded), it
    becomes a member of the incident; the first run of a drill attaches the drill (its
    parent run), which stands for all of its runs."""

    def __init__(self, incident_id: str, warn: Callable[[str], None]) -> None:
        self.incident_id = incident_id
        self.warn = warn
        self.attached = ""

    def __call__(self, event: Event) -> None:
        if event.kind is not EventKind.RUN_STARTED or self.attached:
            return
        member = str(event.data.get("parent_run") or event.run_id)
        self.attached = member
        try:
            with open_ledger() as ledger:
                ledger.attach_run(self.incident_id, member, operator_name())
        except EngineError as exc:  # the run goes on; the human can attach it later
            self.warn(
                f"warning: run {member} not attached to incident {self.incident_id}:"
                f" {exc.message} (runbook incident attach {self.incident_id} {member})"
            )


def list_incidents(show_all: bool, since: float | None, limit: int, output: str) -> str:
    """The incidents, newest first: the open ones (not resolved), or all."""
    with open_ledger() as ledger:
        records = ledger.incidents(since=since, limit=limit, open_only=not show_all)
    if output == "json":
        return json.dumps([incident_json(r) for r in records], indent=2)
    header = ("INCIDENT", "TITLE", "STATUS", "OPENED", "TTD", "TTM", "TTR", "ALERTS", "RUNS")
    return table(header, [_cells(record) for record in records])


def _cells(record: IncidentRecord) -> tuple[str, ...]:
    took = [record.took(name) for name in (DETECTED, MITIGATED, RESOLVED)]
    return (
        record.incident_id,
        printable_line(record.title[:60]),
        record.status,
        _local(record.opened_at),
        *(_duration(t) if t is not None else "-" for t in took),
        str(len(record.alerts)),
        str(len(record.run_ids)),
    )


def show_incident(incident_id: str, output: str) -> str:
    """An incident whole: its times with their sources, its members, its notes."""
    with open_ledger() as ledger:
        record = ledger.incident(incident_id)
    if output == "json":
        return json.dumps(incident_json(record), indent=2)
    return "\n".join(_incident_lines(record))


def _incident_lines(record: IncidentRecord) -> list[str]:
    lines = [
        f"incident {record.incident_id}: {printable_line(record.title)}",
        f"  status:    {record.status}",
        f"  severity:  {printable_line(record.severity) or '-'}",
        f"  playbook:  {printable_line(record.playbook) or '-'}",
        f"  opened:    {rfc3339(record.opened_at)} by {printable_line(record.opened_by)}",
        "times (UTC):",
        *_time_lines(record),
        "alerts:",
        *(_alert_line(a) for a in record.alerts),
        "runs:",
        *(f"  {run}{' (attached)' if run in record.attached else ''}" for run in record.run_ids),
        "proposals:",
        *(
            f"  {p.trigger_id} {p.playbook or '-'} {p.state or '-'}"
            + (f" run {p.run_id}" if p.run_id else "")
            + (f" by {printable_line(p.approved_by)}" if p.approved_by else "")
            for p in record.proposals
        ),
        "notes:",
        *(
            f"  {rfc3339(n.at)} {printable_line(n.author)}: {printable_line(n.text)}"
            for n in record.notes
        ),
        *(["reopened:"] if record.reopenings else []),
        *(
            printable_line(
                f"  {rfc3339(r.at)} {r.alertname} fired again (startsAt {r.starts_at}),"
                f" resolved at {rfc3339(r.resolved_at)} taken back"
            )
            for r in record.reopenings
        ),
    ]
    return lines


def _time_lines(record: IncidentRecord) -> list[str]:
    lines = []
    for name in TIMES:
        found = record.times[name]
        at = rfc3339(found.at) if found.at is not None else "-"
        took = record.took(name) if name in (DETECTED, MITIGATED, RESOLVED) else None
        after = f"  (+{_duration(took)})" if took is not None else ""
        why = f"  {found.ignored}" if found.ignored else ""
        line = f"  {LABELS[name]:<17} {at:<24} {found.source or '-':<6}{after}{why}"
        lines.append(line.rstrip())
    return lines


def _alert_line(alert: IncidentAlert) -> str:
    labels = ", ".join(f"{k}={v}" for k, v in sorted(alert.labels.items()))
    ends = f" until {alert.ends_at}" if alert.ends_at else ""
    return printable_line(
        f"  {alert.alertname} {alert.fingerprint} {alert.status} since {alert.starts_at}{ends}"
        f" ({alert.notification_id}) {{{labels}}} {alert.generator_url}"
    )


def _duration(seconds: float) -> str:
    """A time to detect, mitigate or resolve: 42s, 12m05s, 2h03m, 3d04h."""
    whole = max(0, int(seconds))
    minutes, secs = divmod(whole, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d{hours:02d}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def _local(at: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at))


def _text(what: str, text: str) -> str:
    stripped = text.strip()
    if not stripped:
        raise UsageError(f"{what} is empty", "say what happened, in a few words")
    if len(stripped) > TEXT_LIMIT:
        raise UsageError(f"{what} is over {TEXT_LIMIT} characters", "keep it shorter")
    return stripped


def incident_json(record: IncidentRecord) -> dict[str, Any]:
    """An incident as `--output json` prints it."""
    data: dict[str, Any] = {
        name: getattr(record, name)
        for name in ("incident_id", "title", "severity", "playbook", "status", "opened_by")
    }
    data["opened_at"] = rfc3339(record.opened_at)
    data["times"] = {
        name: {
            "at": rfc3339(found.at) if found.at is not None else None,
            "source": found.source or None,
            **({"ignored": found.ignored} if found.ignored else {}),
        }
        for name, found in record.times.items()
    }
    data["ttd_seconds"] = record.took(DETECTED)
    data["ttm_seconds"] = record.took(MITIGATED)
    data["ttr_seconds"] = record.took(RESOLVED)
    data["alerts"] = [
        {
            "notification_id": a.notification_id,
            "fingerprint": a.fingerprint,
            "alertname": a.alertname,
            "labels": a.labels,
            "starts_at": a.starts_at,
            "ends_at": a.ends_at or None,
            "status": a.status,
            "generator_url": a.generator_url,
            "received_at": rfc3339(a.received_at),
            "resolved_by": a.resolved_by,
        }
        for a in record.alerts
    ]
    data["runs"] = record.run_ids
    data["attached_runs"] = record.attached
    data["proposals"] = [
        {
            "trigger_id": p.trigger_id,
            "playbook": p.playbook,
            "state": p.state,
            "run_id": p.run_id,
            "approved_by": p.approved_by,
            "approved_at": rfc3339(p.approved_at) if p.approved_at is not None else None,
        }
        for p in record.proposals
    ]
    data["notes"] = [
        {"note_id": n.note_id, "at": rfc3339(n.at), "author": n.author, "text": n.text}
        for n in record.notes
    ]
    data["reopened"] = [
        {
            "at": rfc3339(r.at),
            "fingerprint": r.fingerprint,
            "alertname": r.alertname,
            "starts_at": r.starts_at,
            "resolved_at": rfc3339(r.resolved_at),
        }
        for r in record.reopenings
    ]
    return data
