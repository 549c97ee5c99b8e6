"""What a postmortem tells, read from the ledger: the story of an incident as plain data.

A story holds the runs (rows and events), the alerts that started them (the
notification's labels, annotations, `startsAt`, `endsAt` and `generatorURL`), the SLI
samples, the healthy band the playbook declared, human notes, and the lifecycle times
(impact start, detected, response, mitigated, resolved), each with where it came from.
It is built here from one run, one drill, or one incident (all its alerts, member runs
and drills, proposals and notes, its times as the incident holds them); the renderers
(`sections`, `markdown`, `html`) know nothing of the ledger.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from msgspec import Struct, field, structs

from engine.core.errors import EngineError
from engine.core.events import RunStarted, read_payload
from engine.ledger import EventRow, Ledger, is_drill_id
from engine.ledger.inbox import RESOLVED, EscalationRow, TriggerRow
from engine.ledger.incident_record import IncidentAlert, IncidentProposal, IncidentRecord
from engine.ledger.incident_times import HUMAN, LABELS, TIMES, epoch_of
from engine.model.playbook import Healthy, Playbook, Sli, Slo
from engine.modes.drill.verdict import DrillReport
from engine.modes.history import open_ledger
from engine.modes.incidents import is_incident_id
from engine.modes.run_record import RunRecord, read_record
from engine.playbook.loader import load_playbook
from engine.run.context.secrets import Declaration, held_secrets

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
    """A lifecycle time and where it came from (`source`); `human`: a person set it."""

    ts: float
    source: str
    human: bool = False


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
    """An incident as told from the record: one run, one drill (its runs), or an incident
    (its alerts, runs and drills, proposals and notes)."""

    kind: str  # "run", "drill" or "incident"
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
    incident: IncidentRecord | None = None
    left_out: dict[str, str] = field(default_factory=dict)  # a record time left out: why
    slo: Slo | None = None  # the objective the SLI serves, as the playbook declared it
    part_of: str | None = None  # the incident a run or drill belongs to


def build_story(story_id: str) -> Story:
    """The story of a run, drill or incident `story_id` (an id or a unique prefix of it)."""
    with open_ledger() as ledger:
        if is_incident_id(story_id):
            return incident_story(ledger, story_id)
        if is_drill_id(story_id):
            return drill_story(ledger, story_id)
        return run_story(ledger, story_id)


def run_story(ledger: Ledger, run_id: str) -> Story:
    """The story of one run, and of the alert that started it where one did."""
    record = read_record(ledger, run_id)
    alerts = [_alert(ledger, record.trigger)] if record.trigger is not None else []
    runs = [record, *_rollbacks_of(ledger, record)]
    points = _points(record.events)
    sli = _sli_of(record)
    return Story(
        kind="run",
        story_id=record.row.run_id,
        playbook=record.row.playbook,
        version=record.row.version,
        content_hash=record.row.content_hash,
        runs=runs,
        alerts=alerts,
        points=points,
        sli_declared=sli.declared,
        healthy=sli.healthy,
        lifecycle=_run_lifecycle(record, alerts, points),
        escalations=_escalations(ledger, runs),
        slo=sli.slo,
        part_of=ledger.incident_of_run(record.row.run_id),
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
    sli = _sli_of(runs[0]) if runs else _sli_of_file(drill.file, drill.content_hash)
    return Story(
        kind="drill",
        story_id=drill.drill_id,
        playbook=drill.playbook,
        version=drill.version,
        content_hash=drill.content_hash,
        runs=runs,
        alerts=[],
        points=points,
        sli_declared=sli.declared,
        healthy=sli.healthy,
        lifecycle=_drill_lifecycle(drill.drill_id, report, injected_at, runs),
        escalations=_escalations(ledger, runs),
        drill=report,
        drill_span=(drill.started_at, drill.finished_at),
        slo=sli.slo,
        part_of=ledger.incident_of_run(runs[0].row.run_id) if runs else None,
    )


def incident_story(ledger: Ledger, incident_id: str) -> Story:
    """The story of an incident: every alert of it, every member run (a drill: its runs
    and its own samples) and the rollbacks made of them on one time axis, its proposals
    and notes, and its lifecycle times as the incident holds them (a human's win)."""
    record = ledger.incident(incident_id)
    runs: list[RunRecord] = []
    points: list[Point] = []
    for member in record.run_ids:
        member_runs, member_points = _member(ledger, member)
        runs += member_runs
        points += member_points
    points.sort(key=lambda point: point.ts)
    alerts = [_incident_alert(ledger, alert) for alert in record.alerts]
    # the playbook told: that of the last run of its own (not a drill's run, a rollback)
    own = [r for r in runs if r.row.parent_run is None] or runs
    last = own[-1] if own else None
    sli = next((d for d in map(_sli_of, runs) if d.declared), NO_SLI)
    return Story(
        kind="incident",
        story_id=record.incident_id,
        playbook=last.row.playbook if last is not None else record.playbook,
        version=last.row.version if last is not None else "",
        content_hash=last.row.content_hash if last is not None else "",
        runs=runs,
        alerts=alerts,
        points=points,
        sli_declared=sli.declared,
        healthy=sli.healthy,
        lifecycle=_incident_lifecycle(record),
        escalations=_escalations(ledger, runs),
        notes=[Note(note.at, note.author, note.text) for note in record.notes],
        incident=record,
        left_out={name: t.ignored for name, t in record.times.items() if t.ignored},
        slo=sli.slo,
    )


def _member(ledger: Ledger, member_id: str) -> tuple[list[RunRecord], list[Point]]:
    """A member of an incident: a run and its rollbacks, or a drill's runs and samples."""
    if is_drill_id(member_id):
        story = drill_story(ledger, member_id)
        return story.runs, story.points
    record = read_record(ledger, member_id)
    runs = [record, *_rollbacks_of(ledger, record)]
    return runs, [point for run in runs for point in _points(run.events)]


def _incident_alert(ledger: Ledger, alert: IncidentAlert) -> Alert:
    """An alert of an incident, with what its notification and its decision said (the
    incident's own record of it when the decision cannot be found)."""
    decided = ledger.triggers(since=alert.received_at, limit=RESOLUTIONS_READ)
    trigger = next(
        (
            row
            for row in decided
            if row.notification_id == alert.notification_id and row.position == alert.position
        ),
        None,
    )
    ends_at = epoch_of(alert.ends_at) if alert.status == "resolved" else None
    if trigger is not None:
        told = _alert(ledger, trigger)
        return structs.replace(told, status=alert.status, ends_at=ends_at or told.ends_at)
    said = _alert_said_at(ledger, alert.notification_id, alert.position)
    return Alert(
        alertname=alert.alertname,
        fingerprint=alert.fingerprint,
        status=alert.status,
        starts_at=epoch_of(alert.starts_at),
        ends_at=ends_at,
        received_at=alert.received_at,
        labels=alert.labels,
        annotations=_strings(said.get("annotations")),
        generator_url=alert.generator_url,
        decision="unknown",
        decision_id="-",
        run_id=None,
    )


def proposal_words(proposal: IncidentProposal) -> str:
    """What became of a proposal an alert of the incident made."""
    said = f"proposal {proposal.trigger_id} of {proposal.playbook or 'no playbook'}"
    if proposal.approved_by is not None:
        return f"{said} approved by {proposal.approved_by}; run {proposal.run_id}"
    return f"{said}: {proposal.state or 'unknown'}"


def _escalations(ledger: Ledger, runs: list[RunRecord]) -> list[EscalationRow]:
    """The escalations about these runs, oldest first."""
    ids = {record.row.run_id for record in runs}
    found = [row for row in ledger.escalations(limit=ESCALATIONS_READ) if row.run_id in ids]
    return sorted(found, key=lambda row: row.created_at)


# -- alerts ----------------------------------------------------------------------------


def _alert(ledger: Ledger, trigger: TriggerRow) -> Alert:
    """The alert of a decision, with what its notification's body said of it (a body
    pruned since tells only what the decision kept), as it arrived: the draft is scrubbed
    as a whole before rendering (`declarations`, `held_values`)."""
    said = _alert_said(ledger, trigger)
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
    return _alert_said_at(ledger, trigger.notification_id, trigger.position)


def _alert_said_at(ledger: Ledger, notification_id: str, position: int) -> dict[str, Any]:
    """Alert `position` of a notification as its body has it ({} once pruned)."""
    body = _json_object(ledger.notification_payload(notification_id))
    alerts = body.get("alerts")
    listed = alerts if isinstance(alerts, list) else []
    found = listed[position] if 0 <= position < len(listed) else None
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


class DeclaredSli(Struct, frozen=True):
    """Whether a playbook declared an SLI, its healthy band and its SLO (None: none)."""

    declared: bool
    healthy: Healthy | None = None
    slo: Slo | None = None


NO_SLI = DeclaredSli(False)


def _declared(sli: Sli | None) -> DeclaredSli:
    return DeclaredSli(True, sli.healthy, sli.slo) if sli is not None else NO_SLI


def _sli_of(record: RunRecord) -> DeclaredSli:
    """Whether the run's playbook declared an SLI, its healthy band and SLO, read from
    the text the run recorded when it started (neither when that text no longer loads)."""
    playbook = recorded_playbook(record)
    if playbook is None:
        return DeclaredSli(bool(_points(record.events)))
    return _declared(playbook.sli)


def recorded_playbook(record: RunRecord) -> Playbook | None:
    """The playbook as the text the run recorded when it started reads now (None when
    it recorded none, or that text no longer loads)."""
    started = next((e for e in record.events if e.kind == RunStarted.kind), None)
    payload = read_payload(started.kind, started.data) if started is not None else None
    if not isinstance(payload, RunStarted):
        return None
    try:
        return load_playbook(record.info.file, text=payload.source)
    except EngineError:
        return None


def declarations(story: Story) -> list[Declaration]:
    """The secrets the recorded playbooks of the story's runs declare, each with the
    folder its `file:` secrets are read from (that of the playbook's file)."""
    found: list[Declaration] = []
    for record in story.runs:
        playbook = recorded_playbook(record)
        if playbook is not None and playbook.secrets:
            found.append((playbook.secrets, Path(record.info.file).parent))
    return found


def held_values(story: Story) -> dict[str, str]:
    """The values the alerts of the story's runs gave to inputs the ledger kept redacted
    (`held_secrets`): an alert's body, kept as it arrived, holds them even when the
    secret itself cannot be read here."""
    return held_secrets(
        (record.info.inputs, record.trigger.inputs if record.trigger is not None else {})
        for record in story.runs
    )


def _sli_of_file(file: str, content_hash: str) -> DeclaredSli:
    """The SLI of a drill that ran no run (refused): from its playbook file, when that
    still holds the content the drill recorded."""
    try:
        playbook = load_playbook(file)
    except EngineError:
        return NO_SLI
    if playbook.content_hash != content_hash:
        return NO_SLI
    return _declared(playbook.sli)


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


# what the record says of each time of an incident (engine/ledger/incident_record.py)
_RECORD_SOURCES = {
    "impact_started": "the earliest alert's startsAt",
    "detected": "the first alert's notification received",
    "response_started": "the first member run started",
    "mitigated": "the SLI of the first recovered member run healthy for good",
    "resolved": "the last alert's endsAt, every alert resolved",
}


def _incident_lifecycle(record: IncidentRecord) -> Lifecycle:
    """The incident's times as they stand, each with its source: the record, or a human
    (`runbook incident set`, `resolve`)."""
    moments: list[Moment | None] = []
    for name in TIMES:
        told = record.times[name]
        if told.at is None:
            moments.append(None)
        elif told.source == HUMAN:
            moments.append(Moment(told.at, f"{LABELS[name]} set by a human", human=True))
        else:
            moments.append(Moment(told.at, _RECORD_SOURCES[name]))
    return Lifecycle(*moments)


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
