"""`runbook drill`: a game day for one playbook. Check the SLI is healthy, inject the
playbook's fault (`drill.inject`), measure how long the SLI takes to notice, run the
playbook as the remediation, measure how long until it recovers, and always take the
fault out again: `drill.revert` when the playbook declares it, else the undos of the
inject steps. Each part is a recorded run of mode `drill`; the report ties them
together. The drill itself is recorded too (`Ledger.start_drill`), refused or not: its
id names it as the parent of its inject, remediate and declared revert runs (a revert
made of the inject's undos is a rollback, whose parent is the inject run), and
`runbook show DRILL_ID` replays its report.
"""

from __future__ import annotations

import contextlib
import shlex
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from types import FrameType
from typing import TYPE_CHECKING, Any, Protocol

import msgspec.structs

from engine.core.errors import EngineError, RefusedError, UsageError
from engine.core.events import Listener
from engine.core.findings import Location
from engine.core.outcome import Outcome
from engine.core.resources import Resources
from engine.core.signals import stop_signals_handled
from engine.ledger import new_drill_id, new_run_id
from engine.model.playbook import DEFAULT_DETECT_WITHIN, Drill
from engine.modes.drill.record import Identity, finish_record, open_record, refused_before_check
from engine.modes.drill.verdict import DrillRefused, DrillReport, DrillStopped, Part, Verdict
from engine.modes.rollback.undo_run import rollback_run
from engine.modes.run import execute_prepared
from engine.run.preflight import Prepared, RunRequest, prepare
from engine.run.runner import RunResult
from engine.run.target_lock import TargetLock
from engine.sli.checker import SliChecker
from engine.sli.judge import Sample, SliVerdict
from engine.templating.render import TemplateRenderer

if TYPE_CHECKING:
    from engine.ledger import Ledger

Listeners = Callable[[], Sequence[Listener]]


class CaseCheck(Protocol):
    """A regression case the drill runs (`runbook drill --case`): named in the drill's
    record from its start, its expectation judged once the drill ended."""

    def identity(self) -> dict[str, Any]: ...

    def judge(self, report: DrillReport, ledger: Ledger) -> None: ...


class DrillSignals:
    """Ctrl-C / SIGTERM between the recorded runs: stop waiting, skip the remediation,
    go straight to the revert. (Inside a run, the runner's own handling applies.)"""

    def __init__(self) -> None:
        self.stop = threading.Event()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.stop.set()

    def installed(self) -> contextlib.AbstractContextManager[None]:
        return stop_signals_handled(self._handle)


def run_drill(
    request: RunRequest, listeners: Listeners = tuple, case: CaseCheck | None = None
) -> DrillReport:
    """The whole drill, recorded in the ledger; raises DrillRefused before anything is
    injected (also when the playbook does not pass its checks: that too is recorded),
    DrillStopped when an error ends it after the inject (recorded too). With `case`, the
    drill is of that regression case: its expectation is judged on top of the verdict."""
    try:
        checked = _checked(request, _dry_run_hint(case))
    except EngineError as exc:
        raise refused_before_check(request, exc) from None
    drill = checked.playbook.drill
    assert drill is not None and checked.playbook.sli is not None
    report = DrillReport(
        checked.playbook.name,
        checked.playbook.metadata.version,
        request.file,
        time.time(),
        drill.detect_within or DEFAULT_DETECT_WITHIN,
        drill.recover_within,
        drill_id=new_drill_id(),
        case=None if case is None else case.identity(),
    )
    with contextlib.ExitStack() as stack:
        try:
            ledger = open_record(stack, request, report, *_identity(checked))
        except EngineError as exc:  # the ledger cannot record the drill: not one to run
            raise DrillRefused(report, exc, request.redactions) from None
        try:
            _refuse_unless_ready(checked)
            _play(request, checked, report, listeners, ledger)
        except EngineError as exc:
            ended: EngineError = (
                _stopped(report, drill, exc, request)
                if report.parts  # the drill was under way
                else DrillRefused(report, exc, request.redactions)
            )
            finish_record(ledger, report)
            raise ended from None
        except KeyboardInterrupt:  # waiting for the targets: nothing injected
            report.fail(Verdict.ABORTED, "the drill was interrupted before the inject")
            finish_record(ledger, report)
            raise
        if case is not None:
            _judge(case, report, ledger)
        finish_record(ledger, report)
    return report


def _judge(case: CaseCheck, report: DrillReport, ledger: Ledger) -> None:
    """The case's expectation on top of the verdict; a record that cannot be read back
    to judge it fails the case, and the drill is still recorded as it ended."""
    try:
        case.judge(report, ledger)
    except EngineError as exc:
        report.fail(Verdict.CASE_FAILED, f"the case could not be judged: {exc.message}")


def _stopped(
    report: DrillReport, drill: Drill, error: EngineError, request: RunRequest
) -> DrillStopped:
    """The drill ended by `error` once under way: was the fault taken out? The revert
    always runs (`_Drill.play`), so no revert part means the revert itself did not end,
    unless the inject never completed and there is no revert to run (its run rolled
    itself back)."""
    parts = {part.name: part for part in report.parts}
    inject = parts.get("inject")
    rolled_back = inject is not None and inject.outcome != Outcome.COMPLETED and not drill.revert
    return DrillStopped(report, error, "revert" in parts or rolled_back, request.redactions)


def _identity(checked: Prepared) -> tuple[Identity, dict[str, Any]]:
    """What the drill's record is keyed by, and its inputs (redacted)."""
    metadata = checked.playbook.metadata
    inputs = dict(checked.redactor.redact_data(dict(checked.variables.inputs)))
    playbook = checked.playbook
    identity = Identity(
        metadata.name,
        metadata.version,
        playbook.content_hash,
        playbook.evidence_hash or None,
        metadata.maturity,
    )
    return identity, inputs


def _play(
    request: RunRequest,
    checked: Prepared,
    report: DrillReport,
    listeners: Listeners,
    ledger: Ledger,
) -> None:
    signals = DrillSignals()
    with (
        signals.installed(),
        _holding_targets(request, checked, signals, ledger) as request,
        _connections() as probes,
    ):
        report.baseline = _sample(checked, "drill-baseline", probes)
        if report.baseline.verdict != SliVerdict.HEALTHY:
            raise RefusedError(
                f"the SLI is {report.baseline.verdict} before the drill"
                + (f" ({report.baseline.error})" if report.baseline.error else ""),
                "a drill measures a fault on a healthy service: start when the SLI is healthy",
            )
        _Drill(request, checked, report, signals, listeners, probes, ledger).play()


@contextlib.contextmanager
def _holding_targets(
    request: RunRequest, checked: Prepared, signals: DrillSignals, ledger: Ledger
) -> Iterator[RunRequest]:
    """The playbook's targets, locked in `ledger` (the one the drill's runs are recorded
    in) from before the baseline to after the revert: the request the drill's runs are
    made from (they work under these leases)."""
    if not checked.targets:
        yield request
        return

    owner = f"drill-{new_run_id()}"
    lock = TargetLock(ledger, None, owner, checked.targets, request.wait_lock)
    blocked = lock.acquire(signals.stop)
    if signals.stop.is_set():
        raise KeyboardInterrupt  # Ctrl-C while waiting: nothing injected
    if blocked:
        raise RefusedError(blocked, "a drill needs its targets to itself")
    try:
        yield msgspec.structs.replace(request, lock_owner=owner)
    finally:
        lock.release()


@contextlib.contextmanager
def _connections() -> Iterator[Resources]:
    """The connections of the drill's own SLI samples (one client per target across
    them), closed when the drill ends."""
    resources = Resources()
    try:
        yield resources
    finally:
        resources.close_all()


def _dry_run_hint(case: CaseCheck | None) -> str:
    """For a drill of a regression case: what still works on a playbook that cannot be
    drilled (no drill section, no SLI), its dry run."""
    if case is None:
        return ""
    file = shlex.quote(str(case.identity().get("file", "CASE.yaml")))
    return f"; meanwhile `runbook drill --case {file} --dry-run` checks the case's path"


def _checked(request: RunRequest, still_works: str = "") -> Prepared:
    """Everything that can be wrong with the playbook, found before the fault goes in;
    `still_works` ends the hint of what only a drill needs (a drill section, an SLI)."""
    prepared = prepare(request, "drill", mode="drill")
    playbook, drill = prepared.playbook, prepared.playbook.drill
    if drill is None or not drill.inject:
        raise UsageError(
            "the playbook has no drill.inject steps",
            "add a `drill:` section with `inject:` steps that cause the fault" + still_works,
            Location(request.file, 1, 1),
        )
    if playbook.sli is None:
        raise UsageError(
            "the playbook has no sli; a drill measures detection with it",
            "add an `sli:` block that turns unhealthy when the fault is in place" + still_works,
            Location(request.file, 1, 1),
        )
    if not drill.revert:
        for step in drill.inject:
            if step.undo is None and step.irreversible:
                raise UsageError(
                    f"inject step {step.id!r} has no undo and there is no drill.revert, "
                    "so the fault could not be taken out after the drill",
                    "give the inject step an `undo:`, or add `drill.revert:` steps",
                    step.location,
                )
    return prepared


def _refuse_unless_ready(prepared: Prepared) -> None:
    """A refusal `prepare` found (a secret not set, …): nothing is injected."""
    if prepared.refusal:
        raise RefusedError(prepared.refusal, prepared.refusal_hint)


def _sample(prepared: Prepared, phase: str, resources: Resources) -> Sample:
    sli = prepared.playbook.sli
    assert sli is not None
    variables = prepared.variables
    checker = SliChecker(
        sli,
        lambda: TemplateRenderer(variables.as_mapping()),
        dict(variables.secrets),
        lambda sample, phase: None,
        threading.Event(),
        resources,
        prepared.withheld_env,
    )
    return checker.sample(phase)


class _Drill:
    def __init__(
        self,
        request: RunRequest,
        checked: Prepared,
        report: DrillReport,
        signals: DrillSignals,
        listeners: Listeners,
        probes: Resources,
        ledger: Ledger,
    ) -> None:
        self.ledger = ledger  # the drill's: its runs are recorded in it
        self.probes = probes  # the connections of the drill's own SLI samples
        self.request = request
        self.checked = checked
        self.report = report
        self.signals = signals
        self.listeners = listeners

    def play(self) -> None:
        inject: RunResult | None = None
        try:
            inject = self._section("inject", self.checked.playbook.drill.inject)  # type: ignore[union-attr]
            if inject.outcome != Outcome.COMPLETED:
                self.report.fail(
                    Verdict.ABORTED if inject.outcome == Outcome.ABORTED else Verdict.INJECT_FAILED,
                    f"the fault could not be injected: {inject.outcome} {inject.message}".strip(),
                )
                return
            injected_at = time.monotonic()
            if self._detected(injected_at) and not self.signals.stop.is_set():
                self._remediate(injected_at)
        finally:
            self._revert(inject)

    def _section(self, name: str, steps: Sequence[Any]) -> RunResult:
        """Run only these steps (no SLI gate) as a recorded drill run."""

        run_id = new_run_id()
        prepared = prepare(self.request, run_id, mode="drill")
        prepared.parent_run = self.report.drill_id
        prepared.playbook = msgspec.structs.replace(prepared.playbook, steps=tuple(steps), sli=None)
        return self._record(
            name, lambda: execute_prepared(prepared, run_id, self.listeners(), self.ledger)
        )

    def _record(self, name: str, run: Callable[[], RunResult]) -> RunResult:
        began = time.monotonic()
        result = run()
        seconds = time.monotonic() - began
        self.report.parts.append(
            Part(name, result.run_id, str(result.outcome), result.message, round(seconds, 3))
        )
        return result

    def _detected(self, injected_at: float) -> bool:
        """Sample until the SLI is no longer healthy, within detect_within."""
        sli = self.checked.playbook.sli
        assert sli is not None
        within = self.report.detect_within or DEFAULT_DETECT_WITHIN  # set: the drill was read
        deadline = injected_at + within
        while not self.signals.stop.is_set():
            sample = _sample(self.checked, "drill-detect", self.probes)
            after = time.monotonic() - injected_at
            self.report.samples.append((after, sample))
            if sample.verdict == SliVerdict.UNHEALTHY:
                self.report.detected_after = round(after, 3)
                return True
            if time.monotonic() + sli.interval > deadline:
                break
            self.signals.stop.wait(sli.interval)
        if self.signals.stop.is_set():
            self.report.fail(Verdict.ABORTED, "the drill was interrupted; the fault is reverted")
            return False
        unknown = [s for _, s in self.report.samples if s.verdict == SliVerdict.UNKNOWN]
        self.report.fail(
            Verdict.NOT_DETECTED,
            f"the SLI did not turn unhealthy within {within:g}s of the injection"
            + (f" ({len(unknown)} sample(s) could not be read)" if unknown else "")
            + ": the alert this playbook answers would not have fired",
        )
        return False

    def _remediate(self, injected_at: float) -> None:
        """The playbook itself, SLI pre-check and stop-on-recovery included."""

        run_id = new_run_id()
        prepared = prepare(self.request, run_id, mode="drill")
        prepared.parent_run = self.report.drill_id
        result = self._record(
            "remediate", lambda: execute_prepared(prepared, run_id, self.listeners(), self.ledger)
        )
        if result.outcome == Outcome.RECOVERED:
            self.report.recovered_after = round(time.monotonic() - injected_at, 3)
            limit = self.report.recover_within
            if limit is not None and self.report.recovered_after > limit:
                self.report.fail(
                    Verdict.NOT_RECOVERED,
                    f"recovered after {self.report.recovered_after:g}s, later than "
                    f"recover_within {limit:g}s",
                )
            return
        verdict = Verdict.ABORTED if result.outcome == Outcome.ABORTED else Verdict.NOT_RECOVERED
        self.report.fail(
            verdict, f"the playbook did not recover the SLI: {result.outcome} {result.message}"
        )

    def _revert(self, inject: RunResult | None) -> None:
        """Always: the declared revert steps, else the undos of what inject completed."""
        drill = self.checked.playbook.drill
        assert drill is not None
        if drill.revert:
            result = self._section("revert", drill.revert)
            ok = result.outcome == Outcome.COMPLETED
        elif inject is not None and inject.outcome == Outcome.COMPLETED:
            result = self._undo_inject(inject)
            ok = result.outcome in (Outcome.COMPLETED, Outcome.RECOVERED)
        else:
            return  # the inject run rolled itself back
        if not ok:
            self.report.fail(
                Verdict.REVERT_FAILED,
                f"REVERT FAILED ({result.outcome} {result.message}): the injected fault may "
                f"still be in place; see `runbook show {result.run_id}` and remove it by hand",
            )

    def _undo_inject(self, inject: RunResult) -> RunResult:
        request = msgspec.structs.replace(self.request, assume_yes=True)  # the drill's own undo
        return self._record(
            "revert", lambda: rollback_run(inject.run_id, request, self.listeners(), self.ledger)
        )
