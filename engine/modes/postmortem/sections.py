"""The sections of a postmortem draft (Google SRE, PagerDuty), built from a story.

Every block is marked: filled from the record, or to be written by a human. The words
are blameless: the people who ran or approved something are named as responders, never
as a cause. The renderers (`markdown`, `html`) lay the blocks out; nothing here knows
the output format.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from msgspec import Struct, field

from engine.core.durations import format_seconds
from engine.core.events import StepResultEvent, UndoResultEvent, read_payload
from engine.ledger import EventRow
from engine.model.playbook import Healthy, Slo
from engine.modes.postmortem.budget import (
    BURN_FORMULA,
    FORMULA,
    RULE,
    Budget,
    budget_spent,
    minutes,
    percent,
)
from engine.modes.postmortem.story import Alert, Moment, Story, proposal_words
from engine.modes.run_record import RunRecord
from engine.ui.sli_chart import ChartData, Marker
from engine.ui.terminal_text import printable_line

TO_WRITE = "to be written"
PASSED, REFUSED = "passed", "refused"  # a drill's verdicts
STEP_FAILED = frozenset({"failed", "timed_out", "unknown"})  # a step's or an undo's end
WENT_WELL = frozenset({"succeeded"})
NO_THRESHOLD = "no threshold known: each sample was judged by the probe's own verdict"
NO_VALUE = "no sample had a value: the probe judged each healthy or unhealthy"
VERDICT_VALUES = {"healthy": 1.0, "unhealthy": 0.0}  # an SLI judged without a threshold


class Cell(Struct, frozen=True):
    """A table cell; `link` is a URL or a command that tells more (`runbook show ID`)."""

    text: str
    link: str = ""


class Block(Struct, frozen=True):
    """A fact (`label`: `text`), a list (`items`) or a table (`headers`, `rows`);
    `filled` says whether the record filled it or a human is to write it; `by_human`, that
    a person set it in the ledger (an incident's time)."""

    filled: bool
    label: str = ""
    text: str = ""
    items: list[str] = field(default_factory=list)
    headers: list[str] = field(default_factory=list)
    rows: list[list[Cell]] = field(default_factory=list)
    by_human: bool = False


class Section(Struct, frozen=True):
    title: str
    blocks: list[Block]


class Draft(Struct, frozen=True):
    """The postmortem: its title, its sections, and its SLI chart (None: `no_chart` says
    why there is none)."""

    title: str
    sections: list[Section]
    chart: ChartData | None
    no_chart: str


def fact(label: str, text: str | None) -> Block:
    """A fact from the record; one the record does not hold is left to a human."""
    if text is None:
        return Block(False, label, f"unknown: {TO_WRITE}")
    return Block(True, label, printable_line(text))


def human(label: str, text: str = TO_WRITE) -> Block:
    return Block(False, label, text)


def draft(story: Story) -> Draft:
    """The postmortem draft of `story`."""
    title = f"Postmortem: {story.playbook} {story.version} ({_what(story)} {story.story_id})"
    if story.incident is not None:
        title = f"Postmortem: {story.incident.title} (incident {story.story_id})"
    sections = [
        Section("Overview", _overview(story)),
        Section("Summary", _summary(story)),
        Section("Impact", _impact(story)),
        Section("Timeline (UTC)", [_timeline(story)]),
        Section("Detection", _detection(story)),
        Section("Response", _response(story)),
        Section("Resolution", _resolution(story)),
        Section("Root cause and contributing factors", [human("Root cause"), human("Factors")]),
        Section("Lessons learned", _lessons(story)),
        Section("Action items", [_action_items(story)]),
        Section("Times to detect, mitigate and resolve", _times(story)),
        Section("Supporting information", _support(story)),
    ]
    chart, no_chart = _chart(story)
    return Draft(printable_line(title), sections, chart, no_chart)


def utc(ts: float | None) -> str:
    if ts is None:
        return "unknown"
    millis = int(ts * 1000) % 1000
    return time.strftime(f"%Y-%m-%d %H:%M:%S.{millis:03d} UTC", time.gmtime(ts))


def _what(story: Story) -> str:
    return story.kind if story.kind in ("drill", "incident") else "run"


def _end_status(story: Story) -> str:
    if story.incident is not None:
        return f"incident {story.incident.status}"
    if story.drill is not None:
        return f"drill verdict {story.drill.verdict}"
    return story.runs[0].row.status if story.runs else "unknown"


# -- the sections ----------------------------------------------------------------------


def _overview(story: Story) -> list[Block]:
    start = story.lifecycle.impact_start or story.lifecycle.response
    began = start.ts if start else (story.drill_span[0] if story.drill_span else None)
    return [
        fact("Date", utc(began) if began is not None else None),
        fact("Status", "draft"),
        human("Authors"),
        fact("Incident", f"{_what(story)} {story.story_id}: {_end_status(story)}"),
        *_part_of(story),
    ]


def _part_of(story: Story) -> list[Block]:
    """The incident a run or drill belongs to, and where its whole postmortem is."""
    if story.part_of is None:
        return []
    said = f"{story.part_of}: its postmortem tells it whole, runbook postmortem {story.part_of}"
    return [fact("Part of incident", said)]


def _summary(story: Story) -> list[Block]:
    life = story.lifecycle
    playbook = f"{story.playbook} {story.version}"
    said = [f"The {_what(story)} of playbook {playbook} ended: {_end_status(story)}."]
    if story.incident is not None:
        said = [_incident_summary(story)]
    if story.part_of is not None:
        said.append(f"It is part of incident {story.part_of} (runbook postmortem {story.part_of}).")
    said += [f"Alert {a.alertname} fired at {utc(a.starts_at)}." for a in story.alerts]
    if story.drill is not None and story.drill.verdict == REFUSED:
        said.append("A game-day drill, refused: nothing was injected.")
    elif story.kind == "drill":
        said.append("A game-day drill: the fault was injected on purpose.")
    if life.mitigated is not None:
        said.append(f"The SLI recovered at {utc(life.mitigated.ts)}.")
    elif story.sli_declared and story.runs:
        said.append("The SLI was not seen to recover.")
    return [fact("From the record", " ".join(said)), human("What happened, in two sentences")]


def _incident_summary(story: Story) -> str:
    incident = story.incident
    assert incident is not None
    playbooks = sorted({r.row.playbook for r in story.runs})
    runs = f"{len(story.runs)} run(s) of {', '.join(playbooks)}" if playbooks else "no run"
    severity = f" (severity {incident.severity})" if incident.severity else ""
    return (
        f"Incident {incident.title}{severity}, opened by"
        f" {incident.opened_by} at {utc(incident.opened_at)}, is {incident.status}:"
        f" {len(story.alerts)} alert(s), {runs}."
    )


def _impact(story: Story) -> list[Block]:
    life = story.lifecycle
    start = life.impact_start or life.response
    span = _between(start, life.resolved)
    known = [p for p in story.points if p.value is not None]
    worst = _worst(story)
    band = f"healthy {story.healthy}" if story.healthy else NO_THRESHOLD
    duration = f"{span} ({_source(start)} to {_source(life.resolved)})" if span else None
    by_human = bool(span) and any(m is not None and m.human for m in (start, life.resolved))
    return [
        _marked(fact("Duration", duration), by_human),
        fact("SLI worst value", worst if known else (NO_VALUE if story.points else None)),
        fact("SLI healthy band", band if story.sli_declared else "no SLI declared"),
        *_error_budget(story),
        human("Users and services affected"),
    ]


def _error_budget(story: Story) -> list[Block]:
    """The budget the story spent of its playbook's SLO, with the rule and formula."""
    slo = story.slo
    if slo is None:
        return [fact("Error budget spent", "no SLO declared")]
    if not story.points:  # no sample: the record cannot tell how long it was unhealthy
        return [fact("Error budget spent", None)]
    life = story.lifecycle
    start = life.impact_start or life.response
    end = life.resolved.ts if life.resolved is not None else None
    duration = end - start.ts if start is not None and end is not None else None
    spent = budget_spent(slo, story.points, end, duration if duration and duration > 0 else None)
    objective = f"{slo.objective}% over {slo.window_text}"
    unhealthy = format_seconds(spent.unhealthy)
    over = f"({slo.window_text} × (1 − {slo.objective}%)) = {unhealthy} ÷ {minutes(spent.budget)}"
    text = (
        f"{percent(spent.spent)} of the error budget of {objective}"
        f" ({minutes(spent.unhealthy)} of {minutes(spent.budget)}):"
        f" the SLI was unhealthy {unhealthy} by its samples"
        f" ({RULE}); {FORMULA} = {unhealthy} ÷ {over}"
    )
    return [fact("Error budget spent", text), fact("Burn rate", _burn_words(spent, slo))]


def _burn_words(spent: Budget, slo: Slo) -> str | None:
    if spent.burn_rate is None or spent.duration is None:
        return None
    return (
        f"{spent.burn_rate:.3g} over {format_seconds(spent.duration)} ({BURN_FORMULA};"
        f" at 1 the budget lasts exactly {slo.window_text}, at 14.4 it is 2% spent in an hour"
        f" of a 30d window)"
    )


def _worst(story: Story) -> str:
    """The sample farthest outside the healthy band (without a band: the largest)."""
    known = [p for p in story.points if p.value is not None]
    if not known:
        return "none"
    unhealthy = [p for p in known if p.verdict == "unhealthy"]
    pool = unhealthy or known
    healthy = story.healthy
    if healthy is not None and healthy.op in ("above",):
        point = min(pool, key=lambda p: p.value or 0.0)
    else:
        point = max(pool, key=lambda p: abs((p.value or 0.0) - (healthy.low if healthy else 0.0)))
    return f"{point.value:g} at {utc(point.ts)} ({point.verdict})"


def _timeline(story: Story) -> Block:
    rows: list[tuple[float, list[Cell]]] = []
    for alert in story.alerts:
        link = alert.generator_url
        if alert.starts_at is not None:
            rows.append(
                (alert.starts_at, _row(alert.starts_at, f"alert {alert.alertname} fired", link))
            )
        if alert.received_at is not None:
            said = f"alert {alert.alertname} received; decision {alert.decision}"
            rows.append((alert.received_at, _row(alert.received_at, said, link)))
        if alert.ends_at is not None:
            rows.append(
                (alert.ends_at, _row(alert.ends_at, f"alert {alert.alertname} resolved", link))
            )
    for record in story.runs:
        rows += [(ts, cells) for ts, cells in _run_rows(record)]
    if story.drill_span is not None:
        began, ended = story.drill_span
        show = f"runbook show {story.story_id}"
        rows.append((began, _row(began, f"drill {story.story_id} started", show)))
        if ended is not None:
            said = f"drill {story.story_id} ended: {_end_status(story)}"
            rows.append((ended, _row(ended, said, show)))
    for note in story.notes:
        rows.append((note.ts, _row(note.ts, f"note by {note.author}: {note.text}", "")))
    rows += _incident_rows(story)
    mitigated = story.lifecycle.mitigated
    if mitigated is not None:
        rows.append((mitigated.ts, _row(mitigated.ts, "SLI recovered (first healthy sample)", "")))
    rows.sort(key=lambda row: row[0])
    return Block(True, headers=["time (UTC)", "event", "link"], rows=[cells for _, cells in rows])


def _incident_rows(story: Story) -> list[tuple[float, list[Cell]]]:
    """An incident's own rows: its opening, its approved proposals, its reopenings, the
    times a human set."""
    incident = story.incident
    if incident is None:
        return []
    show = f"runbook show {incident.incident_id}"
    opened = f"incident {incident.incident_id} opened by {incident.opened_by}"
    rows = [(incident.opened_at, _row(incident.opened_at, opened, show))]
    for proposal in incident.proposals:
        if proposal.approved_at is not None:
            said = proposal_words(proposal)
            rows.append((proposal.approved_at, _row(proposal.approved_at, said, show)))
    for again in incident.reopenings:
        said = f"reopened: {again.alertname} fired again, resolved at {utc(again.resolved_at)}"
        rows.append((again.at, _row(again.at, said, show)))
    life = story.lifecycle
    for moment in (life.impact_start, life.detected, life.response, life.mitigated, life.resolved):
        if moment is not None and moment.human:
            rows.append((moment.ts, _row(moment.ts, moment.source, show)))
    return rows


def _row(ts: float, event: str, link: str) -> list[Cell]:
    return [Cell(utc(ts)), Cell(printable_line(event)), Cell(printable_line(link), link)]


def _run_rows(record: RunRecord) -> Iterator[tuple[float, list[Cell]]]:
    row = record.row
    show = f"runbook show {row.run_id}"
    yield row.started_at, _row(row.started_at, f"run {row.run_id} ({row.mode}) started", show)
    for event in record.events:
        said = _event_words(event)
        if said:
            yield event.ts, _row(event.ts, said, show)
    if row.finished_at is not None:
        yield row.finished_at, _row(row.finished_at, f"run {row.run_id} ended {row.status}", show)


def _event_words(event: EventRow) -> str:
    step = event.step_id or ""
    kind = event.kind
    if kind == "step_intent":
        return f"step {step} started"
    if kind == "step_result":
        return f"step {step} {event.data.get('status')}"
    if kind == "step_skipped":
        return f"step {step} skipped"
    if kind == "undo_intent":
        return f"undo of step {step} started"
    if kind == "undo_result":
        return f"undo of step {step} {event.data.get('status')}"
    if kind == "rollback_started":
        return "rollback started"
    if kind == "confirm_answer":
        said = "approved" if event.data.get("approved") else "declined"
        return f"confirm gate of step {step} {said}"
    return ""


def _detection(story: Story) -> list[Block]:
    if story.kind == "drill" and story.drill is not None:
        after = story.drill.detected_after
        seen = (
            f"the drill's SLI samples saw the fault after {after:g}s" if after is not None else None
        )
        missed = (
            "nothing was injected"
            if story.drill.verdict == REFUSED
            else "the SLI did not see the fault"
        )
        return [
            fact("How it was detected", seen or missed),
            human("How it could be detected sooner"),
        ]
    if story.alerts:
        said = [
            f"alert {a.alertname} (fingerprint {a.fingerprint}) → decision {a.decision}"
            f" {a.decision_id} → run {a.run_id or '-'}"
            for a in story.alerts
        ]
        return [
            Block(True, "Alert to run", items=[printable_line(s) for s in said]),
            *[_alert_said(alert) for alert in story.alerts],
            human("How it could be detected sooner"),
        ]
    if story.incident is not None:
        by_hand = f"no alert in the record: the incident was opened by {story.incident.opened_by}"
        return [fact("How it was detected", by_hand), human("Who noticed, and how")]
    return [
        fact("How it was detected", "no alert in the record: the run was started by hand"),
        human("Who noticed, and how"),
    ]


def _alert_said(alert: Alert) -> Block:
    """What the alert said: its labels and annotations, and where it was drawn from."""
    said = [f"label {key}={value}" for key, value in sorted(alert.labels.items())]
    said += [f"annotation {key}: {value}" for key, value in sorted(alert.annotations.items())]
    if alert.generator_url:
        said.append(f"source: {alert.generator_url}")
    name = f"Alert {alert.alertname}"
    return Block(True, name, items=[printable_line(s) for s in said] or ["no labels recorded"])


def _responders(story: Story) -> list[str]:
    names: list[str] = []
    for record in story.runs:
        for name in [record.row.operator, *_approvers(record)]:
            if name and name not in names:
                names.append(name)
    proposals = story.incident.proposals if story.incident is not None else []
    names += [p.approved_by for p in proposals if p.approved_by and p.approved_by not in names]
    return names + [n.author for n in story.notes if n.author and n.author not in names]


def _approvers(record: RunRecord) -> list[str]:
    return [
        str(e.data.get("by"))
        for e in record.events
        if e.kind == "confirm_answer" and e.data.get("by")
    ]


def _response(story: Story) -> list[Block]:
    steps = [
        f"{r.step} ({r.run_id}): {r.status}{' — ' + r.message if r.message else ''}"
        for r in _step_results(story)
    ]
    blocks = [
        Block(True, "Responders", items=[printable_line(n) for n in _responders(story)]),
        Block(True, "Steps", items=[printable_line(s) for s in steps] or ["no step ran"]),
    ]
    if story.incident is not None and story.incident.proposals:
        said = [printable_line(proposal_words(p)) for p in story.incident.proposals]
        blocks.append(Block(True, "Proposals", items=said))
    return [*blocks, human("Decisions made and why")]


def _resolution(story: Story) -> list[Block]:
    life = story.lifecycle
    mitigated = f"SLI recovered at {utc(life.mitigated.ts)}" if life.mitigated else None
    if story.incident is not None:
        return [
            fact("Outcome", _end_status(story)),
            _time_fact("Mitigated", life.mitigated, story.left_out.get("mitigated")),
            _time_fact("Resolved", life.resolved, story.left_out.get("resolved")),
        ]
    return [
        fact("Outcome", _end_status(story)),
        fact("Mitigated", mitigated if story.sli_declared else "no SLI declared"),
        fact(
            "Resolved",
            f"{utc(life.resolved.ts)} ({life.resolved.source})" if life.resolved else None,
        ),
    ]


class StepEnd(Struct, frozen=True):
    run_id: str
    step: str
    status: str
    message: str
    undo: bool


def _step_results(story: Story, undo: bool = False) -> list[StepEnd]:
    ends = []
    for record in story.runs:
        for event in record.events:
            payload = read_payload(event.kind, event.data)
            if isinstance(payload, StepResultEvent) and not undo:
                ends.append(_end(record, event, payload.status, payload.message, False))
            elif isinstance(payload, UndoResultEvent) and undo:
                ends.append(_end(record, event, payload.status, payload.message, True))
    return ends


def _end(record: RunRecord, event: EventRow, status: str, message: str, undo: bool) -> StepEnd:
    return StepEnd(record.row.run_id, event.step_id or "", status, message, undo)


def _lessons(story: Story) -> list[Block]:
    well = [f"step {e.step} {e.status}" for e in _step_results(story) if e.status in WENT_WELL]
    well += [
        f"undo of step {e.step} {e.status}"
        for e in _step_results(story, True)
        if e.status in WENT_WELL
    ]
    if story.lifecycle.mitigated is not None:
        well.append("the SLI recovered")
    badly = [f"step {e.step} {e.status}" for e in _step_results(story) if e.status in STEP_FAILED]
    badly += [
        f"undo of step {e.step} failed ({e.status})"
        for e in _step_results(story, True)
        if e.status not in WENT_WELL
    ]
    badly += [
        f"run {r.row.run_id} ended {r.row.status}" for r in story.runs if r.row.status in _BAD_ENDS
    ]
    badly += [f"escalated: {e.reason}" for e in story.escalations]
    badly += _drill_findings(story)
    return [
        Block(
            True,
            "What went well (from the record)",
            items=[printable_line(s) for s in well] or ["nothing recorded"],
        ),
        Block(
            True,
            "What went badly (from the record)",
            items=[printable_line(s) for s in badly] or ["nothing recorded"],
        ),
        human("Where we got lucky"),
    ]


def _drill_findings(story: Story) -> list[str]:
    """What a drill that did not pass found (its report's findings)."""
    if story.drill is None or story.drill.verdict == PASSED:
        return []
    return [f"drill found ({story.drill.verdict}): {said}" for said in story.drill.findings]


_NO_RUN = [Cell("no run"), Cell("-"), Cell("-")]
_BAD_ENDS = frozenset({"failed", "not_recovered", "rollback_failed", "interrupted", "aborted"})


def _action_items(story: Story) -> Block:
    items = [
        f"fix step {e.step} ({e.status}{': ' + e.message if e.message else ''})"
        for e in _step_results(story)
        if e.status in STEP_FAILED
    ]
    items += [
        f"make the undo of step {e.step} work ({e.status})"
        for e in _step_results(story, True)
        if e.status not in WENT_WELL
    ]
    items += [
        f"find why the SLI did not recover after run {r.row.run_id}"
        for r in story.runs
        if r.row.status == "not_recovered"
    ]
    items += [f"act on what the {finding}" for finding in _drill_findings(story)]
    items += [f"answer the escalation {e.escalation_id}: {e.reason}" for e in story.escalations]
    rows = [[Cell(printable_line(item)), Cell(TO_WRITE), Cell(TO_WRITE)] for item in items]
    rows.append([Cell(TO_WRITE), Cell(TO_WRITE), Cell(TO_WRITE)])
    return Block(bool(items), headers=["action", "owner", "bug"], rows=rows)


def _times(story: Story) -> list[Block]:
    life = story.lifecycle
    base = life.impact_start
    since = base or life.response
    return [
        _span("Time to detect (TTD)", base, life.detected),
        _span("Time to mitigate (TTM)", since, life.mitigated),
        _span("Time to resolve (TTR)", since, life.resolved),
        _time_fact("Impact start", life.impact_start, story.left_out.get("impact_started")),
        _time_fact("Detected", life.detected, story.left_out.get("detected")),
        _time_fact("Response started", life.response, story.left_out.get("response_started")),
        _time_fact("Mitigated", life.mitigated, story.left_out.get("mitigated")),
        _time_fact("Resolved", life.resolved, story.left_out.get("resolved")),
    ]


def _time_fact(label: str, moment: Moment | None, left_out: str | None) -> Block:
    """A lifecycle time and its source, marked as a human's when a person set it; not
    known, with why the record's was left out when it was."""
    if moment is None:
        why = f" ({left_out})" if left_out else ""
        return Block(False, label, printable_line(f"unknown{why}: {TO_WRITE}"))
    return _marked(fact(label, f"{utc(moment.ts)} ({moment.source})"), moment.human)


def _span(label: str, start: Moment | None, end: Moment | None) -> Block:
    """A time from `start` to `end`; one whose end the record puts before its start (an
    alert's clock ahead of the engine's, an endsAt before the startsAt) is no time at
    all: a human is to tell it, with how far apart the clocks are."""
    span = _between(start, end)
    if span is None or start is None or end is None:
        return fact(label, None)
    if end.ts < start.ts:
        early = format_seconds(start.ts - end.ts)
        why = f"{end.source} is {early} before {start.source} (clocks that disagree?)"
        return human(label, f"unknown: {why}: {TO_WRITE}")
    said = fact(label, f"{span}: from {start.source} to {end.source}")
    return _marked(said, start.human or end.human)


def _marked(block: Block, by_human: bool) -> Block:
    return Block(block.filled, block.label, block.text, by_human=by_human)


def _between(start: Moment | None, end: Moment | None) -> str | None:
    if start is None or end is None:
        return None
    return format_seconds(max(end.ts - start.ts, 0.0))


def _source(moment: Moment | None) -> str:
    return moment.source if moment else "unknown"


def _support(story: Story) -> list[Block]:
    runs = [
        [Cell(r.row.run_id, f"runbook show {r.row.run_id}"), Cell(r.row.mode), Cell(r.row.status)]
        for r in story.runs
    ]
    blocks = [
        fact("Playbook", f"{story.playbook}@{story.version}"),
        fact("Content hash", f"sha256 {story.content_hash}"),
        Block(True, "Runs", headers=["run", "mode", "outcome"], rows=runs or [_NO_RUN]),
    ]
    if story.kind in ("drill", "incident"):
        blocks.append(fact(story.kind.capitalize(), f"runbook show {story.story_id}"))
    return blocks


# -- the chart -------------------------------------------------------------------------


def _chart(story: Story) -> tuple[ChartData | None, str]:
    if not story.sli_declared:
        return None, "no SLI declared: no chart"
    title, healthy = f"SLI of {story.playbook}", story.healthy
    if healthy is None:  # judged without a threshold (a command's exit status): the verdicts
        samples = [(p.ts, VERDICT_VALUES.get(p.verdict)) for p in story.points]
        title, healthy = f"{title} (1: healthy, 0: unhealthy)", Healthy("equals", 1.0)
    else:
        samples = [(p.ts, p.value) for p in story.points]
    if not any(value is not None for _, value in samples):
        return None, "no SLI sample with a value was recorded: no chart"
    markers = [m for record in story.runs for m in _markers(record)]
    if story.lifecycle.mitigated is not None:
        markers.append(Marker(story.lifecycle.mitigated.ts, "recovered", "recovered"))
    markers += [
        Marker(a.starts_at, f"alert {a.alertname}", "alert") for a in story.alerts if a.starts_at
    ]
    if story.kind == "drill" and story.lifecycle.impact_start is not None:
        markers.append(Marker(story.lifecycle.impact_start.ts, "fault injected", "inject"))
    return ChartData(title, samples, healthy, markers), ""


def _markers(record: RunRecord) -> Iterator[Marker]:
    for event in record.events:
        step = printable_line(event.step_id or "")
        if event.kind == "step_intent":
            yield Marker(event.ts, f"step {step}", "step")
        elif event.kind == "step_result" and event.data.get("status") in STEP_FAILED:
            yield Marker(event.ts, f"step {step} {event.data.get('status')}", "failed")
        elif event.kind == "undo_intent":
            yield Marker(event.ts, f"undo {step}", "undo")
        elif event.kind == "undo_result" and event.data.get("status") not in WENT_WELL:
            yield Marker(event.ts, f"undo {step} {event.data.get('status')}", "failed")
