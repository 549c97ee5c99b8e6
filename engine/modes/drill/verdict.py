"""How a drill ended: its verdict, the report that tells it (as `runbook drill` prints it
and the ledger keeps it), and the refusal that carries that report to the caller."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec.structs
from msgspec import Struct, field

from engine.core.errors import EngineError, ExitCode, InvalidPlaybook
from engine.core.findings import Finding
from engine.core.outcome import Outcome
from engine.sli.judge import Sample, SliVerdict


class Verdict:
    PASSED = "passed"  # detected in time, recovered in time, fault removed
    NOT_DETECTED = "not_detected"  # the SLI never saw the fault
    NOT_RECOVERED = "not_recovered"  # the playbook ran and the SLI did not recover (in time)
    INJECT_FAILED = "inject_failed"  # the fault could not be injected
    REVERT_FAILED = "revert_failed"  # the fault may still be in place: act now
    ABORTED = "aborted"
    REFUSED = "refused"  # a precondition was not met: nothing was injected
    STOPPED = "stopped"  # an error ended the drill after the inject; the fault was reverted
    CASE_FAILED = "case_failed"  # passed, but the regression case's expectation did not hold


EXIT_CODES = {
    Verdict.PASSED: ExitCode.OK,
    Verdict.NOT_DETECTED: ExitCode.NOT_RECOVERED,
    Verdict.NOT_RECOVERED: ExitCode.NOT_RECOVERED,
    Verdict.INJECT_FAILED: ExitCode.FAILED,
    Verdict.REVERT_FAILED: ExitCode.ROLLBACK_FAILED,
    Verdict.ABORTED: ExitCode.ABORTED,
    Verdict.REFUSED: ExitCode.REFUSED,
    Verdict.STOPPED: ExitCode.FAILED,  # the error's own, when known (`error_exit`)
    Verdict.CASE_FAILED: ExitCode.FAILED,
}


# The outcome a drill's own run row ends with: its exit code is the drill's.
OUTCOMES = {
    Verdict.PASSED: Outcome.COMPLETED,
    Verdict.NOT_DETECTED: Outcome.NOT_RECOVERED,
    Verdict.NOT_RECOVERED: Outcome.NOT_RECOVERED,
    Verdict.INJECT_FAILED: Outcome.FAILED,
    Verdict.REVERT_FAILED: Outcome.ROLLBACK_FAILED,
    Verdict.ABORTED: Outcome.ABORTED,
    Verdict.REFUSED: Outcome.REFUSED,
    Verdict.STOPPED: Outcome.FAILED,
    Verdict.CASE_FAILED: Outcome.FAILED,
}
# The verdicts of a drill an error ended early: the report's exit code is the error's.
ENDED_BY_ERROR = (Verdict.REFUSED, Verdict.STOPPED)


class Part(Struct):
    """One recorded run of the drill: inject, remediate or revert."""

    name: str
    run_id: str
    outcome: str
    message: str
    seconds: float


class Reason(Struct):
    """Why a drill was refused: where (`file:line:col`, when the playbook is the cause;
    `path` is the key there, as `runbook validate` names it), what, and how to fix it."""

    message: str
    hint: str = ""
    file: str | None = None
    line: int | None = None
    col: int | None = None
    path: str = ""

    def render(self) -> str:
        where = ":".join(str(part) for part in (self.file, self.line, self.col) if part)
        text = ": ".join(part for part in (where, self.path, self.message) if part)
        return f"{text} — {self.hint}" if self.hint else text


def reasons_of(error: EngineError, redact: Callable[[str], str]) -> list[Reason]:
    """An error as reasons (one for each finding of an invalid playbook), at its place
    when it has one, secrets redacted."""
    if isinstance(error, InvalidPlaybook) and error.findings:
        found = [_reason_of_finding(finding) for finding in error.findings]
    elif error.location is not None:
        where = error.location
        found = [Reason(error.message, error.hint, where.file, where.line, where.col)]
    else:
        found = [Reason(error.message, error.hint)]
    return [_redacted(reason, redact) for reason in found]


def _reason_of_finding(finding: Finding) -> Reason:
    where = finding.location
    line, col = (where.line, where.col) if where.line else (None, None)
    return Reason(finding.message, finding.hint, where.file, line, col, finding.path)


def _redacted(reason: Reason, redact: Callable[[str], str]) -> Reason:
    return msgspec.structs.replace(reason, message=redact(reason.message), hint=redact(reason.hint))


class DrillReport(Struct):
    """How one drill went. `playbook` and `version` are None when the playbook could not
    be read that far, `detect_within` when it was refused before the drill was read."""

    playbook: str | None
    version: str | None
    file: str
    started_at: float
    detect_within: float | None
    recover_within: float | None
    baseline: Sample | None = None
    parts: list[Part] = field(default_factory=list)
    samples: list[tuple[float, Sample]] = field(default_factory=list)  # (s after inject, sample)
    detected_after: float | None = None
    recovered_after: float | None = None
    verdict: str = Verdict.PASSED
    findings: list[str] = field(default_factory=list)
    refusal: list[Reason] = field(default_factory=list)  # why, when the verdict is refused
    drill_id: str | None = None  # None: not recorded
    # The exit code of the error that ended the drill early (a refusal: 2 for a playbook
    # that cannot be read or bad inputs, 5 for a precondition not met); `exit_code` in
    # the JSON.
    error_exit: int | None = None
    # `runbook drill --case`: the case's name, file and sha256, and once judged, each
    # expectation (name, held, says) and whether all held
    case: dict[str, Any] | None = None

    @property
    def exit_code(self) -> ExitCode:
        if self.verdict in ENDED_BY_ERROR and self.error_exit is not None:
            return ExitCode(self.error_exit)
        return EXIT_CODES[self.verdict]

    def fail(self, verdict: str, finding: str) -> None:
        """Keep the first failure as the verdict; a revert failure overrides everything."""
        if self.verdict == Verdict.PASSED or verdict == Verdict.REVERT_FAILED:
            self.verdict = verdict
        self.findings.append(finding)

    def refuse(self, reasons: list[Reason], exit_code: ExitCode) -> None:
        """Nothing was injected, for these reasons."""
        self.verdict = Verdict.REFUSED
        self.refusal += reasons
        self.findings += [reason.render() for reason in reasons]
        self.error_exit = int(exit_code)

    def as_dict(self) -> dict[str, Any]:
        data = msgspec.structs.asdict(self)
        data["parts"] = [msgspec.structs.asdict(part) for part in self.parts]
        data["refusal"] = [msgspec.structs.asdict(reason) for reason in self.refusal]
        data["baseline"] = _sample_dict(self.baseline) if self.baseline else None
        data["samples"] = [{"after": round(t, 3), **_sample_dict(s)} for t, s in self.samples]
        del data["error_exit"]
        data["exit_code"] = int(self.exit_code)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DrillReport:
        """The report `as_dict` gave (as the ledger keeps it), to be rendered again."""
        fields = {name: data[name] for name in cls.__struct_fields__ if name in data}
        fields["parts"] = [Part(**part) for part in data.get("parts", [])]
        fields["refusal"] = [Reason(**reason) for reason in data.get("refusal", [])]
        baseline = data.get("baseline")
        fields["baseline"] = _sample_of(baseline) if baseline else None
        fields["samples"] = [(s["after"], _sample_of(s)) for s in data.get("samples", [])]
        if data.get("verdict") in ENDED_BY_ERROR:
            fields["error_exit"] = data.get("exit_code")
        return cls(**fields)


def _sample_dict(sample: Sample) -> dict[str, Any]:
    return {"verdict": str(sample.verdict), "value": sample.value, "error": sample.error}


def _sample_of(data: dict[str, Any]) -> Sample:
    return Sample(SliVerdict(data["verdict"]), data["value"], data["error"])


def _same(text: str) -> str:
    return text


class DrillRefused(EngineError):
    """A drill refused before anything was injected, with the report that says so. The
    error handler tells the refusal as it would alone (its lines and its exit code: 2
    for a playbook that cannot be read or bad inputs, 5 for a precondition not met);
    `--output json` prints the report too."""

    def __init__(
        self, report: DrillReport, refusal: EngineError, redact: Callable[[str], str] = _same
    ) -> None:
        super().__init__(refusal.message, refusal.hint, refusal.location)
        self.refusals = [refusal]
        self.exit_code = refusal.exit_code
        report.refuse(reasons_of(refusal, redact), refusal.exit_code)
        self.report = report

    def add_reason(self, problem: EngineError, redact: Callable[[str], str] = _same) -> None:
        """One more reason (the ledger could not record the refusal); the exit code stays
        the first reason's."""
        self.refusals.append(problem)
        self.report.refuse(reasons_of(problem, redact), self.exit_code)

    def render(self) -> str:
        return "\n".join(refusal.render() for refusal in self.refusals)


class DrillStopped(EngineError):
    """An error that ended a drill after the inject (the playbook changed on disk, a
    secret went missing), with the report that says so: the verdict `stopped` when the
    fault was taken out (the error's exit code), `revert_failed` when the revert did not
    run to its end (exit 4: the fault may still be in place). The error handler tells
    the error; the CLI prints the report too."""

    def __init__(
        self,
        report: DrillReport,
        error: EngineError,
        fault_out: bool,
        redact: Callable[[str], str] = _same,
    ) -> None:
        super().__init__(error.message, error.hint, error.location)
        self.error = error
        said = "; ".join(reason.render() for reason in reasons_of(error, redact))
        if fault_out:
            report.fail(Verdict.STOPPED, f"the drill stopped after the inject: {said}")
            report.error_exit = int(error.exit_code)
        else:
            report.fail(
                Verdict.REVERT_FAILED,
                f"REVERT FAILED ({said}): the injected fault may still be in place; "
                "remove it by hand",
            )
        self.exit_code = report.exit_code
        self.report = report

    def render(self) -> str:
        return self.error.render()
