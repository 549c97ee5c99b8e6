"""Judging a case: the path a playbook takes now against the recorded one (from a dry
run's plan, or from the drill's remediation), and the expectation on top of a drill's
verdict: the outcome, within T, the same path, no undo failed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from msgspec import Struct, field

from engine.core.errors import ExitCode, UsageError
from engine.core.events import EventKind
from engine.ledger import EventRow, Ledger, RunRow
from engine.modes.drill.verdict import DrillReport, Verdict
from engine.modes.regress.build import path_of
from engine.modes.regress.case import (
    RAN,
    RECOVER_WITHIN,
    SKIPPED,
    Case,
    PathStep,
)
from engine.modes.regress.read import ReadCase
from engine.run.plan import PlannedStep
from engine.run.preflight import RunRequest, prepare

UNKNOWN = "unknown"  # a `when:` that reads a value only the run knows
WHEN_FALSE_NOTE = "skipped: `when` is false"  # what a plan notes of a skipped step
SUCCEEDED = "succeeded"
ENDED_WELL = ("recovered", "completed")  # a remediation that ended otherwise did not recover


def case_inputs(case: Case, given: Mapping[str, str]) -> dict[str, str]:
    """The inputs a drill of the case is given: the case's, then those on the command
    line (which win). An input the case holds redacted must be given again."""
    missing = [name for name in case.fault_context.supply if name not in given]
    if missing:
        names = ", ".join(missing)
        raise UsageError(
            f"the case holds input(s) {names} redacted (they held a secret in the record)",
            "give each again with -i NAME=VALUE",
        )
    inputs = {name: _argument(value) for name, value in case.fault_context.inputs.items()}
    return {**inputs, **given}


def _argument(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def planned_path(plan: Sequence[PlannedStep]) -> list[PathStep]:
    """Where each step would be on the path, as the plan evaluates its `when:`."""
    return [PathStep(step.id, _planned(step)) for step in plan]


def _planned(step: PlannedStep) -> str:
    if step.note.startswith(WHEN_FALSE_NOTE):
        return SKIPPED
    if step.verdict == UNKNOWN and step.note.startswith("`when` depends on"):
        return UNKNOWN
    return RAN


def differences(recorded: Sequence[PathStep], now: Sequence[PathStep], verb: str) -> list[str]:
    """Each way the path `now` differs from the recorded one, in words. A step not
    reached in either (the SLI recovered first) is no difference; `verb` says how a step
    taken now is told ("would run" for a plan, "ran" for a drill)."""
    was = {step.id: step.path for step in recorded}
    is_now = {step.id: step.path for step in now}
    found = [_added(step, now, verb) for step in now if step.id not in was]
    found += [f"step {step.id!r} was removed" for step in recorded if step.id not in is_now]
    kept_was = [step.id for step in recorded if step.id in is_now]
    kept_now = [step.id for step in now if step.id in was]
    if kept_was != kept_now:
        found.append(f"the steps run in another order: {', '.join(kept_now)} (recorded:"
                     f" {', '.join(kept_was)})")  # fmt: skip
    found += [
        said
        for step in kept_now
        if (said := _changed(step, was[step], is_now[step], verb)) is not None
    ]
    return found


def _added(step: PathStep, now: Sequence[PathStep], verb: str) -> str:
    ids = [s.id for s in now]
    where = ids.index(step.id)
    after = f" after {ids[where - 1]!r}" if where else " first"
    taken = {SKIPPED: "its `when` is false", UNKNOWN: "its `when` is known only in the run"}
    return f"step {step.id!r} was added{after} (it {taken.get(step.path, verb)})"


def _changed(step: str, was: str, now: str, verb: str) -> str | None:
    if was == RAN and now == SKIPPED:
        return f"step {step!r} ran in the record; now its `when` is false"
    if was == SKIPPED and now == RAN:
        return f"step {step!r} was skipped in the record (`when` false); now it {verb}"
    return None


class DryCheck(Struct):
    """`runbook drill --case --dry-run`: the playbook still validates (else exit 2), its
    content against the case's, and the path it would take against the recorded one."""

    case: str
    case_file: str
    playbook: str
    version: str
    file: str
    recorded_hash: str
    content_hash: str
    steps: list[dict[str, str]] = field(default_factory=list)  # id, recorded, now
    differences: list[str] = field(default_factory=list)
    # A case of a failed run: how that run ended ("" otherwise). Its path is information,
    # and the playbook that failed, unchanged, fails the check.
    failed_outcome: str = ""

    @property
    def same_content(self) -> bool:
        return self.recorded_hash == self.content_hash

    @property
    def unchanged_since_failure(self) -> bool:
        return bool(self.failed_outcome) and self.same_content

    @property
    def exit_code(self) -> ExitCode:
        if self.failed_outcome:
            return ExitCode.FAILED if self.same_content else ExitCode.OK
        return ExitCode.FAILED if self.differences else ExitCode.OK

    def as_dict(self) -> dict[str, Any]:
        return {
            "case": self.case,
            "case_file": self.case_file,
            "playbook": self.playbook,
            "version": self.version,
            "file": self.file,
            "content_hash": {
                "case": self.recorded_hash,
                "now": self.content_hash,
                "same": self.same_content,
            },
            "same_path": not self.differences,
            "differences": self.differences,
            "of_failed_run": self.failed_outcome or None,
            "unchanged_since_failure": self.unchanged_since_failure,
            "steps": self.steps,
            "exit_code": int(self.exit_code),
        }


def check_case(
    read: ReadCase, playbook_file: str, given: Mapping[str, str], home: Path | None = None
) -> DryCheck:
    """The dry run of a case: nothing injected, executed, probed or recorded."""
    case = read.case
    request = RunRequest(
        file=playbook_file,
        inputs=case_inputs(case, given),
        dry_run=True,
        home=home,
        alert=case.fault_context.alert.namespace(),
    )
    prepared = prepare(request, run_id="dry-run", mode="dry-run")
    now = planned_path(prepared.plan)
    recorded = case.observed.steps if case.observed is not None else case.expect.steps
    was = {step.id: step.path for step in recorded}
    steps = [{"id": s.id, "recorded": was.get(s.id, "absent"), "now": s.path} for s in now]
    steps += [{"id": s.id, "recorded": s.path, "now": "absent"} for s in recorded
              if s.id not in {n.id for n in now}]  # fmt: skip
    playbook = prepared.playbook
    return DryCheck(
        case.name,
        read.file,
        playbook.name,
        playbook.metadata.version,
        playbook_file,
        case.source.content_hash,
        playbook.content_hash,
        steps,
        differences(recorded, now, "would run"),
        case.observed.outcome if case.observed is not None else "",
    )


class Expectation(Struct, frozen=True):
    name: str  # outcome | within | path | no_failed_undo
    held: bool
    says: str


class CaseJudge:
    """What `runbook drill --case` adds to a drill: the case named in its record, and
    the expectation judged once the drill ended."""

    def __init__(self, read: ReadCase) -> None:
        self.read = read

    def identity(self) -> dict[str, Any]:
        return {"name": self.read.case.name, "file": self.read.file, "sha256": self.read.sha256}

    def judge(self, report: DrillReport, ledger: Ledger) -> None:
        """Judge the expectation; each that did not hold fails the drill (exit 1) when
        its own verdict passed."""
        parts = {part.name: part for part in report.parts}
        remediate = parts.get("remediate")
        if remediate is None:
            said = "not judged: the playbook did not run (see the drill's verdict)"
            held = [Expectation(name, False, said) for name in _NAMES]
        else:
            events = ledger.events(remediate.run_id)
            held = [
                self._outcome(remediate.outcome),
                self._within(report, remediate.seconds, remediate.outcome),
                self._path(path_of(events)),
                _no_failed_undo(report, events),
            ]
        report.case = {**self.identity(), "held": all(e.held for e in held),
                       "expectations": [_as_dict(e) for e in held]}  # fmt: skip
        observed = self.read.case.observed
        if observed is not None:
            report.case["of_failed_run"] = {
                "id": self.read.case.source.id,
                "outcome": observed.outcome,
            }
        if remediate is not None:
            report.case["content_hash"] = self._content(ledger.get_run(remediate.run_id))
        for expectation in held:
            if not expectation.held:
                report.fail(Verdict.CASE_FAILED, f"case {self.read.case.name}: {expectation.says}")
        if observed is not None and report.verdict == Verdict.NOT_RECOVERED:
            # the incident again: the case's own failure, not a drill that went wrong
            report.verdict = Verdict.CASE_FAILED

    def _content(self, run: RunRow) -> dict[str, Any]:
        """The playbook's content the drill ran against the case's (a change is told,
        not a failure by itself: the path decides)."""
        recorded = self.read.case.source.content_hash
        return {"case": recorded, "now": run.content_hash, "same": recorded == run.content_hash}

    def _outcome(self, outcome: str) -> Expectation:
        wanted = self.read.case.expect.outcome
        return Expectation("outcome", outcome == wanted, f"outcome {outcome} (expected {wanted})")

    def _within(self, report: DrillReport, seconds: float, outcome: str) -> Expectation:
        expect = self.read.case.expect
        took: float | None
        if expect.basis == RECOVER_WITHIN:
            took, counted = report.recovered_after, "after the injection"
        else:
            took, counted = seconds, "for the remediation"
        if outcome not in ENDED_WELL:
            took = None
        if took is None:
            return Expectation("within", False, f"did not recover (within {expect.within:g}s)")
        held = took <= expect.within
        return Expectation("within", held, f"{took:g}s {counted} (within {expect.within:g}s)")

    def _path(self, now: list[PathStep]) -> Expectation:
        observed = self.read.case.observed
        taken = ", ".join(step.id for step in now if step.path == RAN) or "no step"
        if observed is not None:
            was = ", ".join(step.id for step in observed.steps if step.path == RAN) or "no step"
            return Expectation(
                "path",
                True,
                f"not enforced: the case came from a run that ended {observed.outcome}"
                f" ({was} ran then; {taken} ran now)",
            )
        found = differences(self.read.case.expect.steps, now, "ran")
        if found:
            return Expectation("path", False, "another path: " + "; ".join(found))
        return Expectation("path", True, f"the same path ({taken} ran)")


_NAMES = ("outcome", "within", "path", "no_failed_undo")


def _no_failed_undo(report: DrillReport, events: Sequence[EventRow]) -> Expectation:
    failed = [
        str(event.step_id)
        for event in events
        if event.kind == EventKind.UNDO_RESULT and event.data.get("status") != SUCCEEDED
    ]
    if report.verdict == Verdict.REVERT_FAILED:
        failed.append("the drill's revert")
    if failed:
        return Expectation("no_failed_undo", False, f"undo failed: {', '.join(failed)}")
    return Expectation("no_failed_undo", True, "no undo failed")


def _as_dict(expectation: Expectation) -> dict[str, Any]:
    return {"name": expectation.name, "held": expectation.held, "says": expectation.says}
