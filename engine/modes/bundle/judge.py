"""The recorded run judged again, executing nothing: the current playbook's `when:`
conditions against the recorded inputs, alert and step results, its stop-on-recovery
decisions and SLI pre-check against the recorded samples, its confirm gates against the
recorded approvals, its content against the recorded hash. Every decision is made by the
function the runner makes it with (`engine.run.execution`, `engine.sli.checker`)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from msgspec import UNSET, Struct, field

from engine.core.errors import EngineError
from engine.core.events import (
    ConfirmAnswer,
    LockTaken,
    RunStarted,
    SliSample,
    StepResultEvent,
    StepSkipped,
    read_payload,
)
from engine.core.results import Status, StepResult
from engine.model.playbook import Playbook, Sli, Step
from engine.modes.bundle.verify import EventLine, RunFacts
from engine.playbook.traits import capture_name, mitigates
from engine.run.context.secrets import REDACTED_MARK
from engine.run.context.variables import RunVariables, base_variables
from engine.run.execution import WHEN_FALSE, run_mode, when_holds
from engine.run.target_lock import render_targets
from engine.sli.checker import PRE_CHECK, after, judge_reading, precheck_refusal, recovery_in
from engine.sli.judge import Reading, Sample, SliVerdict
from engine.templating.redaction import Redactor
from engine.templating.render import RenderError, condition_references

ALL_STEPS = "all steps"


class Difference(Struct, frozen=True):
    """One thing the current playbook and engine would do otherwise than the run did."""

    what: str  # content, steps, when, sli, stop-on-recovery, guard, mode
    recorded: str
    now: str
    where: str = ""  # file:line:col in the current playbook, or the file
    step: str | None = None


class Unjudged(Struct, frozen=True):
    """A decision the record cannot settle, and why."""

    what: str
    reason: str
    step: str | None = None


class Judgement(Struct, frozen=True):
    differences: list[Difference]
    unjudged: list[Unjudged]
    # the steps the recorded run took that would now be skipped (no SLI sampled after them)
    skipped_now: set[str] = field(default_factory=set)


class StepRecord(Struct, frozen=True):
    """How a step ended in the recorded run: ran (with its result) or skipped (why)."""

    skipped: str | None
    result: StepResult | None


class Recorded(Struct, frozen=True):
    """What the bundle's events say the run did."""

    run_id: str
    mode: str
    maturity: int | None
    steps: list[str]
    outcome: str
    approved_by: str | None
    answered: set[str]  # the steps whose confirm gate was answered
    records: dict[str, StepRecord]
    samples: list[SliSample]
    inputs: dict[str, Any]
    content_hash: str
    version: str
    targets: list[str] | None  # the lock keys the run took (None: it took none)


def recorded_run(run: RunFacts, events: Sequence[EventLine]) -> Recorded:
    """The facts replay judges, read from the manifest and the events of the run (each
    event read as its kind's payload, as `runbook show` reads the ledger's)."""
    started: RunStarted | None = None
    records: dict[str, StepRecord] = {}
    answered: set[str] = set()
    samples: list[SliSample] = []
    targets: list[str] | None = None
    for event in events:
        payload = read_payload(event.kind, event.data)
        step = event.step_id
        if isinstance(payload, RunStarted) and started is None:
            started = payload
        elif isinstance(payload, StepResultEvent) and step:
            records[step] = StepRecord(None, _result(payload))
        elif isinstance(payload, StepSkipped) and step:
            records[step] = StepRecord(payload.reason, None)
        elif isinstance(payload, ConfirmAnswer) and step:
            answered.add(step)
        elif isinstance(payload, SliSample):
            samples.append(payload)
        elif isinstance(payload, LockTaken) and targets is None:
            targets = list(payload.targets)
    return Recorded(
        run_id=run.run_id,
        mode=run.mode,
        maturity=run.playbook.maturity
        if run.playbook.maturity is not None
        else (started.maturity if started else None),
        steps=list(started.steps) if started else [],
        outcome=run.outcome,
        approved_by=started.approved_by if started else None,
        answered=answered,
        records=records,
        samples=samples,
        inputs=dict(run.inputs),
        content_hash=run.playbook.content_hash,
        version=run.playbook.version,
        targets=targets,
    )


def _result(event: StepResultEvent) -> StepResult:
    """A recorded step result as the runner held it when it made the step's variables."""
    try:
        status = Status(event.status)
    except ValueError:
        status = Status.UNKNOWN
    return StepResult(
        status,
        exit_code=event.exit_code,
        output=event.output if isinstance(event.output, str) else "",
        message=event.message,
        captured=event.captured if isinstance(event.captured, dict) else {},
        value=None if event.value is UNSET else event.value,
    )


def judge_run(
    recorded: Recorded, playbook: Playbook, alert: Mapping[str, Any], recorded_sli: Sli | None
) -> Judgement:
    """Every difference between the recorded run and what `playbook` would do now."""
    found = Judgement([], [])
    _content(recorded, playbook, found)
    _mode(recorded, playbook, found)
    _step_list(recorded, playbook, found)
    _targets(recorded, playbook, alert, found)
    _steps(recorded, playbook, alert, found)
    _sli(recorded, playbook, recorded_sli, found)
    return found


def _content(recorded: Recorded, playbook: Playbook, found: Judgement) -> None:
    if recorded.content_hash != playbook.content_hash:
        version = playbook.metadata.version
        same = " (the same version with other content)" if version == recorded.version else ""
        found.differences.append(
            Difference(
                "content",
                f"{recorded.version} ({recorded.content_hash[:12]})",
                f"{version} ({playbook.content_hash[:12]}){same}",
                playbook.file,
            )
        )


def _mode(recorded: Recorded, playbook: Playbook, found: Judgement) -> None:
    level = playbook.metadata.maturity
    now = run_mode(recorded.mode, level)
    if recorded.mode in ("live", "guided") and now != recorded.mode:
        where = playbook.file
        found.differences.append(
            Difference(
                "mode",
                f"{recorded.mode} (level {recorded.maturity})",
                f"{now} (level {level})",
                where,
            )
        )
    elif recorded.maturity is not None and recorded.maturity != level:
        found.differences.append(
            Difference("maturity", f"level {recorded.maturity}", f"level {level}", playbook.file)
        )


def _step_list(recorded: Recorded, playbook: Playbook, found: Judgement) -> None:
    current = [step.id for step in playbook.steps]
    for step in playbook.steps:
        if step.id not in recorded.steps:
            found.differences.append(
                Difference("steps", "no such step", "added", str(step.location), step.id)
            )
    for step_id in recorded.steps:
        if step_id not in current:
            what = _told(recorded.records.get(step_id))
            found.differences.append(Difference("steps", what, "removed", playbook.file, step_id))
    kept = [step for step in recorded.steps if step in current]
    if kept != [step for step in current if step in recorded.steps]:
        found.differences.append(
            Difference("steps", " → ".join(kept), "other order", playbook.file)
        )


def _told(record: StepRecord | None) -> str:
    if record is None:
        return "not reached"
    if record.result is not None:
        return f"ran ({record.result.status})"
    return f"skipped: {record.skipped}"


def _targets(
    recorded: Recorded, playbook: Playbook, alert: Mapping[str, Any], found: Judgement
) -> None:
    """The lock keys the run would take, rendered from the recorded inputs and alert as
    the run renders them before step 1."""
    if recorded.targets is None and not recorded.records:
        return  # the run stopped before it locked anything: nothing to compare
    variables = _variables(recorded, playbook, alert)
    try:
        now = list(render_targets(playbook, variables, Redactor({})))
    except (EngineError, RenderError) as exc:
        found.unjudged.append(Unjudged("targets", exc.message))
        return
    then = recorded.targets or []
    if now != then:
        found.differences.append(
            Difference(
                "guard",
                f"locked {', '.join(then) or 'no target'}",
                f"would lock {', '.join(now) or 'no target'}",
                playbook.file,
            )
        )


def _steps(
    recorded: Recorded, playbook: Playbook, alert: Mapping[str, Any], found: Judgement
) -> None:
    """Each step's `when:` and confirm gate, on the variables the run had before it: the
    recorded inputs and alert, and the results of the steps recorded before it."""
    variables = _variables(recorded, playbook, alert)
    for step in playbook.steps:
        record = recorded.records.get(step.id)
        if record is None:
            continue  # not reached in the recorded run (or new): nothing to compare
        _when(step, record, variables, found)
        _confirm(step, record, recorded, found)
        result = record.result or StepResult(Status.SKIPPED, message=record.skipped or "")
        variables.record(step.id, capture_name(step) if record.result else None, result)


def _variables(recorded: Recorded, playbook: Playbook, alert: Mapping[str, Any]) -> RunVariables:
    defaults = {
        name: spec.default for name, spec in playbook.inputs.items() if spec.default is not None
    }
    inputs = {**defaults, **recorded.inputs}
    variables = base_variables(playbook, inputs, {}, recorded.run_id, recorded.mode)
    variables.alert = dict(alert)
    return variables


def _when(step: Step, record: StepRecord, variables: RunVariables, found: Judgement) -> None:
    if record.skipped not in (None, WHEN_FALSE):
        return  # skipped for another reason (the SLI recovered): `when` was not asked
    try:
        runs = when_holds(step, variables.as_mapping())
    except RenderError as exc:
        found.unjudged.append(Unjudged("when", f"`{step.when}`: {exc.message}", step.id))
        return
    ran = record.skipped is None
    if runs != ran and (hidden := _redacted_reads(step.when, variables.as_mapping())):
        reason = f"`{step.when}` reads {hidden}, which the record holds redacted (a secret)"
        found.unjudged.append(Unjudged("when", reason, step.id))
        return
    if not runs:
        found.skipped_now.add(step.id)
    if runs != ran:
        recorded_as = _told(record)
        now = "would run" + (f": `{step.when}` is true" if step.when else ": no `when:` now")
        if not runs:
            now = f"would be skipped: `{step.when}` is false"
        found.differences.append(Difference("when", recorded_as, now, str(step.location), step.id))


def _redacted_reads(expr: str | None, variables: Mapping[str, Any]) -> str:
    """The variables `expr` reads whose recorded value holds a redacted secret (the
    decision on them cannot be made again from the record), named; "" when none."""
    if not expr:
        return ""
    try:
        references = condition_references(expr)
    except RenderError:
        return ""
    hidden = [".".join(path) for path in sorted(references) if _holds_redacted(variables, path)]
    return ", ".join(hidden)


def _holds_redacted(variables: Mapping[str, Any], path: tuple[str, ...]) -> bool:
    value: Any = variables
    for key in path:
        if not isinstance(value, Mapping) or key not in value:
            break
        value = value[key]
    return REDACTED_MARK in json.dumps(value, ensure_ascii=False, default=str)


def _confirm(step: Step, record: StepRecord, recorded: Recorded, found: Judgement) -> None:
    """A confirm gate the run passed without a human: neither pre-approved (`--yes`) nor
    answered at a terminal, so it would now stop there (or be refused without one)."""
    unapproved = not recorded.approved_by and step.id not in recorded.answered
    if step.confirm and record.skipped is None and unapproved:
        found.differences.append(
            Difference(
                "guard",
                "ran without a confirm gate",
                "would wait for a human to confirm (nobody pre-approved the run)",
                str(step.location),
                step.id,
            )
        )


def _sli(
    recorded: Recorded, playbook: Playbook, recorded_sli: Sli | None, found: Judgement
) -> None:
    sli = playbook.sli
    if sli is None:
        if recorded.samples:
            found.differences.append(
                Difference(
                    "sli",
                    "checked by its SLI",
                    "no `sli:`: no pre-check, no stop on recovery",
                    playbook.file,
                )
            )
        return
    if not recorded.samples:
        found.unjudged.append(Unjudged("sli", "the run recorded no SLI sample to judge"))
        return
    if recorded_sli is not None and recorded_sli.probe != sli.probe:
        found.unjudged.append(
            Unjudged("sli", "the probe changed: the recorded samples are readings of the old one")
        )
    verdicts = [_rejudged(sli, sample) for sample in recorded.samples]
    _sample_verdicts(recorded.samples, verdicts, playbook, found)
    _pre_check(recorded.samples, verdicts, playbook, found)
    _recovery(recorded, playbook, sli, verdicts, found)


def _verdict(sample: SliSample) -> SliVerdict:
    try:
        return SliVerdict(sample.verdict)
    except ValueError:
        return SliVerdict.UNKNOWN


def _rejudged(sli: Sli, sample: SliSample) -> SliVerdict:
    """The verdict the current SLI gives the recorded reading."""
    reading = Reading(sample.value, sample.error, _verdict(sample), sample.detail)
    return judge_reading(sli, reading).verdict


def _sample_verdicts(
    samples: Sequence[SliSample],
    verdicts: Sequence[SliVerdict],
    playbook: Playbook,
    found: Judgement,
) -> None:
    changed = [
        f"{s.phase}: {s.value} {s.verdict} → {now}"
        for s, now in zip(samples, verdicts, strict=True)
        if s.verdict != now
    ]
    if changed:
        band = str(playbook.sli.healthy) if playbook.sli and playbook.sli.healthy else "the probe's"
        found.differences.append(
            Difference(
                "sli",
                f"{len(changed)} of {len(samples)} samples judged otherwise",
                f"healthy {band}: " + "; ".join(changed),
                playbook.file,
            )
        )


def _pre_check(
    samples: Sequence[SliSample],
    verdicts: Sequence[SliVerdict],
    playbook: Playbook,
    found: Judgement,
) -> None:
    for sample, verdict in zip(samples, verdicts, strict=True):
        if sample.phase != PRE_CHECK:
            continue
        then = _pre_check_outcome(_verdict(sample), sample)
        now = _pre_check_outcome(verdict, sample)
        if then != now:
            found.differences.append(
                Difference(
                    "guard", f"SLI pre-check: {then}", f"SLI pre-check: {now}", playbook.file
                )
            )
        return


def _pre_check_outcome(verdict: SliVerdict, sample: SliSample) -> str:
    refusal = precheck_refusal(Sample(verdict, None, sample.error))
    return f"refused ({refusal})" if refusal else "the run goes on"


def _recovery(
    recorded: Recorded,
    playbook: Playbook,
    sli: Sli,
    verdicts: Sequence[SliVerdict],
    found: Judgement,
) -> None:
    """The step after which the run stopped on recovery, recorded and now."""
    then = _recorded_recovery(recorded)
    now = _recovery_now(recorded.samples, verdicts, playbook, sli, found.skipped_now)
    if then != now:
        found.differences.append(
            Difference(
                "stop-on-recovery",
                _recovery_told(then),
                _recovery_told(now) + (" within the recorded samples" if now is None else ""),
                playbook.file,
                now or then,
            )
        )


def _recorded_recovery(recorded: Recorded) -> str | None:
    if recorded.outcome != "recovered":
        return None
    phases = [s.phase for s in recorded.samples if s.phase != PRE_CHECK]
    return phases[-1].removeprefix("after ") if phases else None


def _recovery_now(
    samples: Sequence[SliSample],
    verdicts: Sequence[SliVerdict],
    playbook: Playbook,
    sli: Sli,
    skipped: set[str],
) -> str | None:
    """The first step after which the current SLI would stop the run, judged on the
    samples recorded after each step the run took (as the runner samples: after a
    succeeded step that mitigates, settle, then `samples` healthy in a row)."""
    steps = playbook.steps
    order = [step.id for step in steps if mitigates(step) and step.id not in skipped]
    order.append(ALL_STEPS)
    last = steps[-1].id if steps else ALL_STEPS
    for step_id in order:
        phase = after(step_id)
        taken = [v for s, v in zip(samples, verdicts, strict=True) if s.phase == phase]
        if taken and recovery_in(taken, sli.samples, final=step_id in (last, ALL_STEPS)):
            return step_id
    return None


def _recovery_told(step_id: str | None) -> str:
    return "not recovered" if step_id is None else f"recovered after {step_id}"
