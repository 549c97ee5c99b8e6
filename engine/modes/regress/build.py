"""A regression case from the ledger's record: of a run (one a person started, or one an
alert started through `runbook serve`) or of a drill. Each kind of id has its builder
(`BUILDERS`); a case of an incident (several runs, several alerts) is one more."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import msgspec.structs

from engine.core.errors import EngineError, UsageError
from engine.core.events import EventKind
from engine.ledger import EventRow, Ledger, is_drill_id
from engine.ledger.inbox import TriggerRow
from engine.model.yamlsource import load_source
from engine.modes.bundle.secrets import record_redactor
from engine.modes.regress.case import (
    INJECT,
    NOT_REACHED,
    OBSERVED,
    RAN,
    RECOVER_WITHIN,
    SKIPPED,
    Alert,
    Case,
    Expect,
    Fault,
    FaultContext,
    Metadata,
    PathStep,
    Source,
    within_of,
)
from engine.templating.redaction import Redactor

REDACTED_MARK = "«redacted:"  # how the ledger keeps a value that held a secret
WHEN_FALSE = "`when` is false"  # the reason the runner records for a skipped step
RUN_MODES = ("live", "hook", "guided")  # the runs a case is made of
SUCCESSES = ("recovered", "completed")

Builder = Callable[[Ledger, str], Case]


def build_case(ledger: Ledger, record_id: str, name: str | None = None) -> Case:
    """The case of the run or drill `record_id` (an id or a unique prefix of one)."""
    case = builder_for(record_id)(ledger, record_id)
    if name:
        case = _renamed(case, name)
    return case


def builder_for(record_id: str) -> Builder:
    """The builder of the kind of record the id names."""
    for matches, builder in BUILDERS:
        if matches(record_id):
            return builder
    return from_run


def from_run(ledger: Ledger, run_id: str) -> Case:
    """A case of one run: its alert (when one started it), inputs, and path."""
    info = ledger.run_info(run_id)
    row = ledger.get_run(info.run_id)
    if info.mode not in RUN_MODES:
        raise _not_a_case_of(info.run_id, f"a run of mode {info.mode}", _mode_hint(info.mode))
    _refuse_unless_succeeded(info.run_id, row.status)
    events = ledger.events(info.run_id)
    trigger = ledger.trigger_of_run(info.run_id)
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
    )
    return _case(
        source,
        _alert_of(ledger, trigger, record_redactor(info, trigger, events)),
        info.inputs,
        _fault_of(events, info.file),
        Expect(row.status, within_of(observed), OBSERVED, path_of(events), round(observed, 3)),
    )


def from_drill(ledger: Ledger, drill_id: str) -> Case:
    """A case of a drill that passed: its inputs, its remediation's path and timings."""
    drill = ledger.get_drill(drill_id)
    if drill.verdict != "passed" or drill.remediate_run is None:
        raise _not_a_case_of(
            drill.drill_id,
            f"a drill whose verdict is {drill.verdict or drill.status}",
            "a case records a path that recovered: make it of a drill that passed",
        )
    remediate = ledger.run_info(drill.remediate_run)
    events = ledger.events(remediate.run_id)
    parts = {part["name"]: part for part in drill.report.get("parts", [])}
    observed = float(parts.get("remediate", {}).get("seconds") or 0.0)
    limit = drill.report.get("recover_within")
    within, basis = (float(limit), RECOVER_WITHIN) if limit else (within_of(observed), OBSERVED)
    source = Source(
        "drill",
        drill.drill_id,
        drill.playbook,
        drill.version,
        drill.content_hash,
        drill.file,
        "drill",
        _utc(drill.started_at),
    )
    outcome = str(parts.get("remediate", {}).get("outcome") or "recovered")
    return _case(
        source,
        Alert(),
        remediate.inputs,
        _fault_of(events, drill.file),
        Expect(outcome, within, basis, path_of(events), round(observed, 3)),
    )


# Which builder makes the case of an id: the first whose test matches (else a run's).
BUILDERS: list[tuple[Callable[[str], bool], Builder]] = [(is_drill_id, from_drill)]


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
    source: Source, alert: Alert, inputs: Mapping[str, Any], fault: Fault, expect: Expect
) -> Case:
    kept, supply = _split_inputs(inputs)
    return Case(
        Metadata(f"{source.playbook}-{source.id}", _utc(time.time())),
        source,
        FaultContext(alert, kept, supply),
        fault,
        expect,
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


def _alert_of(ledger: Ledger, trigger: TriggerRow | None, redactor: Redactor) -> Alert:
    """The labels and annotations of the alert that started the run, from the
    notification it came in (only its name when the body was pruned); a secret in them
    is redacted (an input's value that the ledger kept redacted, a declared secret)."""
    if trigger is None:
        return Alert()
    alert = _alert_in(ledger, trigger)
    labels, annotations = redactor.redact_data((alert.labels, alert.annotations))
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
    body = _json(ledger.notification_payload(trigger.notification_id))
    alerts = body.get("alerts") if isinstance(body, dict) else None
    if not isinstance(alerts, list) or not 0 <= trigger.position < len(alerts):
        return Alert(
            {"alertname": trigger.alertname},
            {},
            trigger.starts_at,
            trigger.fingerprint,
            "the notification's body was pruned from the ledger: only the alert's name is known",
        )
    alert = alerts[trigger.position]
    return Alert(
        _texts(alert.get("labels")),
        _texts(alert.get("annotations")),
        trigger.starts_at,
        trigger.fingerprint,
    )


def _fault_of(events: Sequence[EventRow], file: str) -> Fault:
    """The playbook's `drill.inject` as the recorded run's playbook text declares it."""
    started = next((e for e in events if e.kind == EventKind.RUN_STARTED), None)
    text = str(started.data.get("source") or "") if started else ""
    try:
        data = load_source(file, text).data if text else None
    except EngineError:
        data = None
    drill = data.get("drill") if isinstance(data, dict) else None
    inject = drill.get("inject") if isinstance(drill, dict) else None
    if not isinstance(inject, list) or not inject:
        return Fault(
            None,
            note="the playbook has no drill section (no drill.inject): `runbook drill --case`"
            " refuses to run the case until it has one; `--dry-run` still checks the path",
        )
    steps = [str(step.get("id")) for step in inject if isinstance(step, dict)]
    return Fault(INJECT, steps)


def _refuse_unless_succeeded(run_id: str, status: str) -> None:
    if status not in SUCCESSES:
        raise _not_a_case_of(
            run_id,
            f"a run that ended {status}",
            "a case records a path that recovered or completed: make it of such a run",
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
