"""A regression case from the ledger's record: of a run (one a person started, or one an
alert started through `runbook serve`) or of a drill. Each kind of id has its builder
(`BUILDERS`); a case of an incident (several runs, several alerts) is one more."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import msgspec.structs

from engine.core.durations import parse_duration
from engine.core.errors import EngineError, UsageError
from engine.core.events import EventKind
from engine.ledger import EventRow, Ledger, is_drill_id
from engine.ledger.inbox import TriggerRow
from engine.ledger.incident_record import IncidentAlert
from engine.model.yamlsource import load_source
from engine.modes.incidents import is_incident_id
from engine.modes.regress.case import (
    INJECT,
    NOT_REACHED,
    OBSERVED,
    RAN,
    RECOVER_WITHIN,
    SKIPPED,
    SLI_TIMEOUT,
    WITHIN_OPTION,
    Alert,
    Case,
    Expect,
    Fault,
    FaultContext,
    Metadata,
    Observed,
    PathStep,
    Source,
    within_of,
)
from engine.run.context.secrets import (
    REDACTED_MARK,
    declared_scrubber,
    declared_secrets,
    held_secrets,
)
from engine.templating.redaction import Redactor

WHEN_FALSE = "`when` is false"  # the reason the runner records for a skipped step
RUN_MODES = ("live", "hook", "guided")  # the runs a case is made of
SUCCESSES = ("recovered", "completed")
# A run that ended so is the incident a team most wants as a case: the playbook did not
# fix things. (An aborted, refused or interrupted run says nothing of the playbook.)
FAILURES = ("failed", "not_recovered", "rollback_failed")
DRILL_VERDICTS = ("passed", "not_recovered")  # the drills whose playbook ran: cases
SLI_DEFAULT_TIMEOUT = 60.0  # the engine's, when `sli:` gives no timeout

Builder = Callable[[Ledger, str, float | None], Case]


def build_case(
    ledger: Ledger, record_id: str, name: str | None = None, within: float | None = None
) -> Case:
    """The case of the run or drill `record_id` (an id or a unique prefix of one);
    `within`: T for a case of a failed run whose playbook declares none."""
    case = builder_for(record_id)(ledger, record_id, within)
    if name:
        case = _renamed(case, name)
    return case


def builder_for(record_id: str) -> Builder:
    """The builder of the kind of record the id names."""
    for matches, builder in BUILDERS:
        if matches(record_id):
            return builder
    return from_run


def from_run(ledger: Ledger, run_id: str, within: float | None = None) -> Case:
    """A case of one run: its alert (when one started it), inputs, and path. Of a run
    that failed, the expectation is to recover within T and the path is only observed."""
    info = ledger.run_info(run_id)
    row = ledger.get_run(info.run_id)
    if info.mode not in RUN_MODES:
        raise _not_a_case_of(info.run_id, f"a run of mode {info.mode}", _mode_hint(info.mode))
    _refuse_unless_ended(info.run_id, row.status)
    events = ledger.events(info.run_id)
    observed = (row.finished_at or row.started_at) - row.started_at
    source = Source(
        "run",
        info.run_id,
        info.playbook,
        info.version,
        info.content_hash,
        info.file,
        info.mode,
        _utc(info.started_at),
        row.status,
    )
    recorded = _recorded_playbook(events, info.file)
    if row.status in FAILURES:
        expect = _failed_expect(info.run_id, recorded, within)
        seen: Observed | None = Observed(row.status, round(observed, 3), path_of(events))
    else:
        _refuse_within(info.run_id, row.status, within)
        steps = path_of(events)
        expect = Expect(row.status, within_of(observed), OBSERVED, steps, round(observed, 3))
        seen = None
    trigger = ledger.trigger_of_run(info.run_id)
    scrub, unread = _scrubber(recorded, info.file, _held_values(trigger, info.inputs))
    return _case(
        source,
        _alert_of(ledger, trigger, scrub),
        scrub.redact_data(dict(info.inputs)),
        _fault_of(recorded),
        expect,
        seen,
        unread,
    )


def _failed_expect(run_id: str, recorded: dict[str, Any], within: float | None) -> Expect:
    """What a case of a failed run expects: to recover (to complete, without an SLI)
    within T: the playbook's `drill.recover_within`, else its SLI's `timeout`, else
    `--within`. No path: a fixed playbook is expected to take another."""
    outcome = "recovered" if isinstance(recorded.get("sli"), dict) else "completed"
    declared = _declared_within(recorded)
    if declared is not None:
        if within is not None:
            raise UsageError(
                f"{run_id}: its playbook declares T ({declared[1]} {declared[0]:g}s):"
                " --within is not used",
                "leave out --within, or change the playbook's value",
            )
        return Expect(outcome, declared[0], declared[1])
    if within is None:
        raise UsageError(
            f"{run_id} ended failed and its playbook declares no time to recover (no"
            " drill.recover_within, no sli): the case needs one",
            "give it: runbook regress RUN_ID -o CASE.yaml --within 5m",
        )
    return Expect(outcome, within, WITHIN_OPTION)


def _declared_within(recorded: dict[str, Any]) -> tuple[float, str] | None:
    """T as the recorded playbook declares it, and its basis, or None."""
    drill, sli = recorded.get("drill"), recorded.get("sli")
    limit = drill.get("recover_within") if isinstance(drill, dict) else None
    if limit is not None and (seconds := _seconds(limit)) is not None:
        return seconds, RECOVER_WITHIN
    if isinstance(sli, dict):
        return _seconds(sli.get("timeout", SLI_DEFAULT_TIMEOUT)) or SLI_DEFAULT_TIMEOUT, SLI_TIMEOUT
    return None


def _seconds(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value) if value > 0 else None
    try:
        return parse_duration(str(value))
    except ValueError:
        return None


def _refuse_within(run_id: str, status: str, within: float | None) -> None:
    if within is not None:
        raise UsageError(
            f"{run_id} ended {status}: --within is for a case of a failed run",
            "leave it out: T of a run that recovered is its observed time (edit the case to"
            " change it)",
        )


def from_drill(ledger: Ledger, drill_id: str, within: float | None = None) -> Case:
    """A case of a drill whose playbook ran: its inputs, its remediation's path and
    timings. Of one that did not recover, the expectation is to recover within T (the
    drill's recover_within, else the SLI's timeout) and the path is only observed."""
    drill = ledger.get_drill(drill_id)
    if within is not None:
        raise UsageError(
            f"{drill.drill_id}: --within is for a case of a failed run whose playbook"
            " declares no time to recover (a drill's always does: its SLI's timeout)",
            "leave out --within",
        )
    if drill.verdict not in DRILL_VERDICTS or drill.remediate_run is None:
        raise _not_a_case_of(
            drill.drill_id,
            f"a drill whose verdict is {drill.verdict or drill.status}",
            "a case is made of a drill whose playbook ran: one that passed or did not"
            " recover (the fault not detected, not injected or not reverted says nothing"
            " of the playbook)",
        )
    remediate = ledger.run_info(drill.remediate_run)
    events = ledger.events(remediate.run_id)
    parts = {part["name"]: part for part in drill.report.get("parts", [])}
    observed = float(parts.get("remediate", {}).get("seconds") or 0.0)
    outcome = str(parts.get("remediate", {}).get("outcome") or "recovered")
    recorded = _recorded_playbook(events, drill.file)
    scrub, unread = _scrubber(recorded, drill.file, {})
    failed = drill.verdict != "passed"
    ended = (outcome if outcome in FAILURES else "not_recovered") if failed else ""
    source = Source(
        "drill",
        drill.drill_id,
        drill.playbook,
        drill.version,
        drill.content_hash,
        drill.file,
        "drill",
        _utc(drill.started_at),
        ended,
    )
    if failed:
        expect = _failed_expect(drill.drill_id, recorded, None)
        seen: Observed | None = Observed(ended, round(observed, 3), path_of(events))
    else:
        limit = drill.report.get("recover_within")
        limit_of, basis = (
            (float(limit), RECOVER_WITHIN) if limit else (within_of(observed), OBSERVED)
        )
        expect = Expect(outcome, limit_of, basis, path_of(events), round(observed, 3))
        seen = None
    return _case(
        source,
        Alert(),
        scrub.redact_data(dict(remediate.inputs)),
        _fault_of(recorded),
        expect,
        seen,
        unread,
    )


def from_incident(ledger: Ledger, incident_id: str, within: float | None = None) -> Case:
    """A case of an incident: that of its remediating run (the last member that ended
    recovered or completed, else its last member: a run or a drill), the incident's first
    alert as the fault context. Refused when its runs are of several playbooks (the case
    is of one playbook: name the run) or it has none."""
    incident = ledger.incident(incident_id)
    members = [(member, _playbook_of(ledger, member)) for member in incident.run_ids]
    playbooks = sorted({playbook for _, playbook in members})
    if not members:
        raise _not_a_case_of(
            incident.incident_id,
            "an incident without a run",
            "attach the run that remediated it (runbook incident attach ID RUN_ID), or make"
            " the case of a run: runbook regress RUN_ID -o CASE.yaml",
        )
    if len(playbooks) > 1:
        named = ", ".join(f"{member} ({playbook})" for member, playbook in members)
        raise UsageError(
            f"{incident.incident_id} has runs of {len(playbooks)} playbooks"
            f" ({', '.join(playbooks)}): a case is of one playbook",
            f"name the run: runbook regress RUN_ID -o CASE.yaml (its runs: {named})",
        )
    chosen = _remediating(ledger, [member for member, _ in members])
    case = builder_for(chosen)(ledger, chosen, within)
    source = msgspec.structs.replace(case.source, incident=incident.incident_id)
    case = msgspec.structs.replace(case, source=source)
    if not incident.alerts:
        return case
    alert = _first_alert(ledger, incident.alerts[0], chosen)
    context = msgspec.structs.replace(case.fault_context, alert=alert)
    return msgspec.structs.replace(case, fault_context=context)


def _playbook_of(ledger: Ledger, member: str) -> str:
    if is_drill_id(member):
        return ledger.get_drill(member).playbook
    return ledger.get_run(member).playbook


def _remediating(ledger: Ledger, members: Sequence[str]) -> str:
    """The member that remediated: the last that ended recovered or completed (a drill
    that passed), else the last."""
    for member in reversed(members):
        if is_drill_id(member):
            if ledger.get_drill(member).verdict == "passed":
                return member
        elif ledger.get_run(member).status in SUCCESSES:
            return member
    return members[-1]


def _first_alert(ledger: Ledger, first: IncidentAlert, chosen: str) -> Alert:
    """The incident's first alert, as its notification brought it, with every secret
    the chosen run's recorded playbook declares (and a value its alert gave a secret
    input) redacted."""
    alert = _alert_at(
        ledger, first.notification_id, first.position, first.alertname, first.starts_at
    )
    alert = msgspec.structs.replace(alert, fingerprint=first.fingerprint)
    run_id = ledger.get_drill(chosen).remediate_run if is_drill_id(chosen) else chosen
    if run_id is None:
        return alert
    info = ledger.run_info(run_id)
    recorded = _recorded_playbook(ledger.events(run_id), info.file)
    held = _held_values(ledger.trigger_of_run(run_id), info.inputs)
    return _redacted(alert, _scrubber(recorded, info.file, held)[0])


# Which builder makes the case of an id: the first whose test matches (else a run's).
BUILDERS: list[tuple[Callable[[str], bool], Builder]] = [
    (is_drill_id, from_drill),
    (is_incident_id, from_incident),
]


def path_of(events: Sequence[EventRow]) -> list[PathStep]:
    """Every step of the recorded run in order: ran, skipped (`when:` false) or not
    reached (the SLI recovered first, or the run ended first)."""
    started = next((e for e in events if e.kind == EventKind.RUN_STARTED), None)
    order = [str(step) for step in (started.data.get("steps") or [])] if started else []
    where: dict[str, str] = {}
    for event in events:
        if event.step_id is None:
            continue
        if event.kind == EventKind.STEP_RESULT:
            where[event.step_id] = RAN
        elif event.kind == EventKind.STEP_SKIPPED:
            reason = str(event.data.get("reason", ""))
            where[event.step_id] = SKIPPED if reason == WHEN_FALSE else NOT_REACHED
    return [PathStep(step, where.get(step, NOT_REACHED)) for step in order]


def _case(
    source: Source,
    alert: Alert,
    inputs: Mapping[str, Any],
    fault: Fault,
    expect: Expect,
    observed: Observed | None = None,
    unread: Sequence[str] = (),
) -> Case:
    kept, supply = _split_inputs(inputs)
    return Case(
        Metadata(f"{source.playbook}-{source.id}", _utc(time.time())),
        source,
        FaultContext(alert, kept, supply, list(unread)),
        fault,
        expect,
        observed,
    )


def _split_inputs(inputs: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The inputs as recorded, and the names of those that held a secret (the ledger
    kept them redacted): a case never holds them, they are supplied again."""
    kept: dict[str, Any] = {}
    supply: list[str] = []
    for name, value in inputs.items():
        if REDACTED_MARK in json.dumps(value, ensure_ascii=False) or REDACTED_MARK in name:
            supply.append(name)
        elif isinstance(value, str | int | float | bool):
            kept[name] = value
        else:
            kept[name] = json.dumps(value)
    return kept, sorted(supply)


def _held_values(trigger: TriggerRow | None, inputs: Mapping[str, Any]) -> dict[str, str]:
    """The values the alert gave the inputs the ledger kept redacted (`held_secrets`)."""
    return held_secrets([(inputs, trigger.inputs if trigger is not None else {})])


def _scrubber(
    recorded: dict[str, Any], file: str, held: Mapping[str, str]
) -> tuple[Redactor, list[str]]:
    """What a case is scrubbed with: the values `held` (an input's that held a secret),
    and every secret the recorded playbook declares that can be read here (its
    environment variable, its file), in any form (base64, URL-encoded, …); and the
    declared secrets that cannot be read here (`NAME (env VAR)`): not looked for."""
    specs = declared_secrets(recorded.get("secrets"))
    scrub, statuses = declared_scrubber([(specs, Path(file).parent)], os.environ, held)
    unread = [f"{status.name} ({status.source})" for status in statuses if status.problem]
    return scrub, unread


def _alert_of(ledger: Ledger, trigger: TriggerRow | None, scrub: Redactor) -> Alert:
    """The labels and annotations of the alert that started the run, from the
    notification it came in (only its name when the body was pruned), with every secret
    value the case can know redacted (`_scrubber`)."""
    if trigger is None:
        return Alert()
    return _redacted(_alert_in(ledger, trigger), scrub)


def _redacted(alert: Alert, scrub: Redactor) -> Alert:
    """The alert with every value `scrub` knows redacted, and a note saying so."""
    labels, annotations = scrub.redact_data(alert.labels), scrub.redact_data(alert.annotations)
    if (labels, annotations) == (alert.labels, alert.annotations):
        return alert
    return msgspec.structs.replace(
        alert,
        labels=labels,
        annotations=annotations,
        note="; ".join(
            part
            for part in (alert.note, "values that held a secret are redacted: «redacted:NAME»")
            if part
        ),
    )


def _alert_in(ledger: Ledger, trigger: TriggerRow) -> Alert:
    alert = _alert_at(
        ledger, trigger.notification_id, trigger.position, trigger.alertname, trigger.starts_at
    )
    return msgspec.structs.replace(alert, fingerprint=trigger.fingerprint)


def _alert_at(
    ledger: Ledger, notification_id: str, position: int, alertname: str, starts_at: str
) -> Alert:
    """Alert `position` of a notification as its body has it (its name alone once the
    body was pruned)."""
    body = _json(ledger.notification_payload(notification_id))
    alerts = body.get("alerts") if isinstance(body, dict) else None
    if not isinstance(alerts, list) or not 0 <= position < len(alerts):
        return Alert(
            {"alertname": alertname},
            {},
            starts_at,
            note="the notification's body was pruned from the ledger: only the alert's name is"
            " known",
        )
    alert = alerts[position]
    return Alert(_texts(alert.get("labels")), _texts(alert.get("annotations")), starts_at)


def _recorded_playbook(events: Sequence[EventRow], file: str) -> dict[str, Any]:
    """The playbook as the recorded run's text declares it (empty when unreadable)."""
    started = next((e for e in events if e.kind == EventKind.RUN_STARTED), None)
    text = str(started.data.get("source") or "") if started else ""
    try:
        data = load_source(file, text).data if text else None
    except EngineError:
        data = None
    return data if isinstance(data, dict) else {}


def _fault_of(data: dict[str, Any]) -> Fault:
    """The playbook's `drill.inject` as the recorded run's playbook text declares it."""
    drill = data.get("drill")
    inject = drill.get("inject") if isinstance(drill, dict) else None
    if not isinstance(inject, list) or not inject:
        return Fault(
            None,
            note="the playbook has no drill section (no drill.inject): `runbook drill --case`"
            " refuses to run the case until it has one; `--dry-run` still checks the path",
        )
    steps = [str(step.get("id")) for step in inject if isinstance(step, dict)]
    return Fault(INJECT, steps)


def _refuse_unless_ended(run_id: str, status: str) -> None:
    if status not in SUCCESSES + FAILURES:
        raise _not_a_case_of(
            run_id,
            f"a run that ended {status}",
            "a case is made of a run that recovered, completed, failed or did not recover"
            " (an aborted, refused or interrupted run says nothing of the playbook)",
        )


def _not_a_case_of(record_id: str, what: str, hint: str) -> UsageError:
    return UsageError(f"{record_id} is {what}: no regression case is made of it", hint)


def _mode_hint(mode: str) -> str:
    if mode == "drill":
        return "give the drill's id (d…, `runbook drills` lists them), not one of its runs"
    return "make the case of a run that remediated: `runbook runs --mode live` or `--mode hook`"


def _renamed(case: Case, name: str) -> Case:
    return msgspec.structs.replace(case, metadata=Metadata(name, case.metadata.created))


def _json(text: str) -> Any:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


def _texts(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def _utc(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))
