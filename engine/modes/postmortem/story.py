"""What a postmortem tells, read from the ledger: the story of an incident as plain data.

A story holds the runs (rows and events), the alerts that started them (the
notification's labels, annotations, `startsAt`, `endsAt` and `generatorURL`), the SLI
samples, the healthy band the playbook declared, human notes, and the lifecycle times
(impact start, detected, response, mitigated, resolved), each with where it came from.
It is built here from one run or one drill; the renderers (`sections`, `markdown`,
`html`) know nothing of the ledger.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from msgspec import Struct, field

from engine.core.errors import EngineError
from engine.ledger import EventRow, Ledger, is_drill_id
from engine.ledger.inbox import RESOLVED, EscalationRow, TriggerRow
from engine.model.playbook import Healthy
from engine.modes.bundle.secrets import record_redactor, recorded_playbook
from engine.modes.drill.verdict import DrillReport
from engine.modes.history import open_ledger
from engine.modes.run_record import RunRecord, read_record
from engine.playbook.loader import load_playbook
from engine.templating.redaction import Redactor

PRE_CHECK = "pre-check"  # the SLI sample a run takes before its first step
ROLLBACKS_READ = 100  # the rollbacks of one run told (a run is rarely undone twice)
ESCALATIONS_READ = 1000  # the newest escalations searched for those of a story's runs
RESOLUTIONS_READ = 1000  # the decisions on resolved alerts searched for the run's alert


class Alert(Struct, frozen=True):
    """An alert that started a run, as its notification brought it."""

    alertname: str
    fingerprint: str
    status: str
    starts_at: float | None
    ends_at: float | None  # only once the alert was resolved
    received_at: float | None  # when the engine's webhook accepted the notification
    labels: dict[str, str]
    annotations: dict[str, str]
    generator_url: str
    decision: str
    decision_id: str
    run_id: str | None


class Point(Struct, frozen=True):
    """One SLI sample: when, its value (None when unreadable), its verdict."""

    ts: float
    value: float | None
    verdict: str
    phase: str


class Moment(Struct, frozen=True):
    """A lifecycle time and where it came from (`source`), or None when unknown."""

    ts: float
    source: str


class Note(Struct, frozen=True):
    """A note a human wrote about the incident."""

    ts: float
    author: str
    text: str


class Lifecycle(Struct, frozen=True):
    impact_start: Moment | None = None
    detected: Moment | None = None
    response: Moment | None = None
    mitigated: Moment | None = None
    resolved: Moment | None = None


class Story(Struct, frozen=True):
    """An incident as told from the record: one run, one drill (its runs), or later many."""

    kind: str  # "run" or "drill"
    story_id: str
    playbook: str
    version: str
    content_hash: str
    runs: list[RunRecord]
    alerts: list[Alert]
    points: list[Point]
    sli_declared: bool
    healthy: Healthy | None
    lifecycle: Lifecycle
    escalations: list[EscalationRow] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    drill: DrillReport | None = None
    drill_span: tuple[float, float | None] | None = None  # a drill's own start and end


def build_story(story_id: str) -> Story:
    """The story of run or drill `story_id` (an id or a unique prefix of it)."""
    with open_ledger() as ledger:
        if is_drill_id(story_id):
            return drill_story(ledger, story_id)
        return run_story(ledger, story_id)


def run_story(ledger: Ledger, run_id: str) -> Story:
    """The story of one run, and of the alert that started it where one did."""
    record = read_record(ledger, run_id)
    trigger = record.trigger
    redactor = record_redactor(record.info, trigger, record.events)
    alerts = [_alert(ledger, trigger, redactor)] if trigger is not None else []
    runs = [record, *_rollbacks_of(ledger, record)]
    points = _points(record.events)
    sli_declared, healthy = _sli_of(record)
    return Story(
        kind="run",
        story_id=record.row.run_id,
        playbook=record.row.playbook,
        version=record.row.version,
        content_hash=record.row.content_hash,
        runs=runs,
        alerts=alerts,
        points=points,
        sli_declared=sli_declared,
        healthy=healthy,
        lifecycle=_run_lifecycle(record, alerts, points),
        escalations=_escalations(ledger, runs),
    )


def _rollbacks_of(ledger: Ledger, record: RunRecord) -> list[RunRecord]:
    """The rollbacks made of the run later (`runbook rollback RUN_ID`), oldest first."""
    children = ledger.runs(parent_run=record.row.run_id, limit=ROLLBACKS_READ)
    return [read_record(ledger, child.run_id) for child in reversed(children)]


def drill_story(ledger: Ledger, drill_id: str) -> Story:
    """The story of a drill: the fault its inject run put in place is the incident,
    the drill's own samples its detection, the remediate run the response, the revert
    its end."""
    drill = ledger.get_drill(drill_id)
    report = DrillReport.from_dict(drill.report) if drill.report else None
    part_ids = [drill.inject_run, drill.remediate_run, drill.revert_run]
    runs = [read_record(ledger, run_id) for run_id in part_ids if run_id]
    inject = read_record(ledger, drill.inject_run) if drill.inject_run else None
    injected_at = inject.row.finished_at if inject is not None else None
    points = _drill_points(report, injected_at)
    for record in runs:
        points += _points(record.events)
    points.sort(key=lambda point: point.ts)
    sli_declared, healthy = (
        _sli_of(runs[0]) if runs else _sli_of_file(drill.file, drill.content_hash)
    )
    return Story(
        kind="drill",
        story_id=drill.drill_id,
        playbook=drill.playbook,
        version=drill.version,
        content_hash=drill.content_hash,
        runs=runs,
        alerts=[],
        points=points,
        sli_declared=sli_declared,
        healthy=healthy,
        lifecycle=_drill_lifecycle(drill.drill_id, report, injected_at, runs),
        escalations=_escalations(ledger, runs),
        drill=report,
        drill_span=(drill.started_at, drill.finished_at),
    )


def _escalations(ledger: Ledger, runs: list[RunRecord]) -> list[EscalationRow]:
    """The escalations about these runs, oldest first."""
    ids = {record.row.run_id for record in runs}
    found = [row for row in ledger.escalations(limit=ESCALATIONS_READ) if row.run_id in ids]
    return sorted(found, key=lambda row: row.created_at)


# -- alerts ----------------------------------------------------------------------------


def _alert(ledger: Ledger, trigger: TriggerRow, redactor: Redactor) -> Alert:
    """The alert of a decision, with what its notification's body said of it (a body
    pruned since tells only what the decision kept), every secret in it redacted: the
    body is kept as it arrived, so a label that gave an input a secret's value holds it."""
    said = redactor.redact_data(_alert_said(ledger, trigger))
    resolved = _resolved(ledger, trigger)
    ended = _alert_said(ledger, resolved) if resolved is not None else {}
    return Alert(
        alertname=trigger.alertname,
        fingerprint=trigger.fingerprint,
        status="resolved" if resolved is not None else str(said.get("status") or "firing"),
        starts_at=_rfc3339(str(said.get("startsAt") or trigger.starts_at)),
        ends_at=_rfc3339(str(ended.get("endsAt") or "")),
        received_at=ledger.notification_received_at(trigger.notification_id),
        labels=_strings(said.get("labels")),
        annotations=_strings(said.get("annotations")),
        generator_url=str(said.get("generatorURL") or ""),
        decision=trigger.decision,
        decision_id=trigger.trigger_id,
        run_id=trigger.run_id,
    )


def _alert_said(ledger: Ledger, trigger: TriggerRow) -> dict[str, Any]:
    """The alert of a decision as its notification's body has it ({} once pruned)."""
    body = _json_object(ledger.notification_payload(trigger.notification_id))
    alerts = body.get("alerts")
    listed = alerts if isinstance(alerts, list) else []
    found = listed[trigger.position] if 0 <= trigger.position < len(listed) else None
    return found if isinstance(found, dict) else {}


def _resolved(ledger: Ledger, trigger: TriggerRow) -> TriggerRow | None:
    """The first notification, after this decision, that the same firing resolved."""
    later = ledger.triggers(decision=RESOLVED, since=trigger.decided_at, limit=RESOLUTIONS_READ)
    same = [
        row
        for row in later
        if row.fingerprint == trigger.fingerprint and row.starts_at == trigger.starts_at
    ]
    return min(same, key=lambda row: row.decided_at) if same else None


def _json_object(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text) if text else {}
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _strings(value: object) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(key): str(item) for key, item in value.items()}


def _rfc3339(text: str) -> float | None:
    """An Alertmanager time as seconds since the epoch; None for none (Go's zero time)."""
    if not text or text.startswith("0001-"):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


# -- the SLI ---------------------------------------------------------------------------


def _points(events: list[EventRow]) -> list[Point]:
    points = []
    for event in events:
        if event.kind != "sli_sample":
            continue
        data = event.data
        value = data.get("value")
        number = float(value) if isinstance(value, int | float) else None
        ts = data.get("sample_ts")
        when = float(ts) if isinstance(ts, int | float) else event.ts
        points.append(Point(when, number, str(data.get("verdict")), str(data.get("phase"))))
    return points


def _drill_points(report: DrillReport | None, injected_at: float | None) -> list[Point]:
    """The drill's own samples, taken between the inject and the remediation."""
    if report is None or injected_at is None:
        return []
    return [
        Point(injected_at + after, sample.value, str(sample.verdict), "detection")
        for after, sample in report.samples
    ]


def _sli_of(record: RunRecord) -> tuple[bool, Healthy | None]:
    """Whether the run's playbook declared an SLI, and its healthy band, read from the
    text the run recorded when it started (no band when that text no longer loads)."""
    playbook = recorded_playbook(record.info.file, record.events)
    if playbook is None:
        return bool(_points(record.events)), None
    if playbook.sli is None:
        return False, None
    return True, playbook.sli.healthy


def _sli_of_file(file: str, content_hash: str) -> tuple[bool, Healthy | None]:
    """The SLI of a drill that ran no run (refused): from its playbook file, when that
    still holds the content the drill recorded."""
    try:
        playbook = load_playbook(file)
    except EngineError:
        return False, None
    if playbook.content_hash != content_hash or playbook.sli is None:
        return False, None
    return True, playbook.sli.healthy


# -- the lifecycle ---------------------------------------------------------------------


def _run_lifecycle(record: RunRecord, alerts: list[Alert], points: list[Point]) -> Lifecycle:
    row = record.row
    alert = alerts[0] if alerts else None
    impact = _moment(alert.starts_at if alert else None, "the alert's startsAt")
    detected = _moment(alert.received_at if alert else None, "the alert's notification received")
    response = Moment(row.started_at, f"run {row.run_id} started")
    mitigated = _recovered(points)
    if alert is not None and alert.ends_at is not None:
        resolved = _moment(alert.ends_at, "the alert's endsAt")
    else:
        resolved = _moment(row.finished_at, f"run {row.run_id} ended")
    return Lifecycle(impact, detected, response, mitigated, resolved)


def _drill_lifecycle(
    drill_id: str, report: DrillReport | None, injected_at: float | None, runs: list[RunRecord]
) -> Lifecycle:
    after = report.detected_after if report is not None else None
    recovered = report.recovered_after if report is not None else None
    remediate = next((r for r in runs if r.row.run_id == _part(report, "remediate")), None)
    revert = next((r for r in runs if r.row.run_id == _part(report, "revert")), None)
    return Lifecycle(
        impact_start=_moment(injected_at, f"drill {drill_id}: the fault injected"),
        detected=_later(injected_at, after, "the drill's SLI sample saw the fault"),
        response=_moment(
            remediate.row.started_at if remediate else None, "the remediation run started"
        ),
        mitigated=_later(injected_at, recovered, "the drill measured the SLI recovered"),
        resolved=_moment(
            revert.row.finished_at if revert else None, "the fault reverted (revert run ended)"
        ),
    )


def _part(report: DrillReport | None, name: str) -> str | None:
    if report is None:
        return None
    return next((part.run_id for part in report.parts if part.name == name), None)


def _later(start: float | None, after: float | None, source: str) -> Moment | None:
    return Moment(start + after, source) if start is not None and after is not None else None


def _moment(ts: float | None, source: str) -> Moment | None:
    return Moment(ts, source) if ts is not None else None


def _recovered(points: list[Point]) -> Moment | None:
    """The first healthy sample after the steps began (the pre-check does not count)."""
    healthy = (p for p in points if p.phase != PRE_CHECK and p.verdict == "healthy")
    first = next(healthy, None)
    return Moment(first.ts, "the first healthy SLI sample after the steps") if first else None
