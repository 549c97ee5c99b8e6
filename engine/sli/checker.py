"""Sampling an SLI: the pre-check, and waiting for recovery after a mitigation."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from engine.core.rendering import Renderer
from engine.core.resources import Resources
from engine.model.playbook import Sli
from engine.sli.judge import Reading, Sample, SliVerdict, judge
from engine.sli.registry import probe_available, probe_type


class SliChecker:
    """Reads the playbook's SLI; every sample goes to `on_sample` (the ledger, displays).
    A probe that keeps a connection keeps it in `resources` (the run's), across samples."""

    def __init__(
        self,
        sli: Sli,
        render: Callable[[], Renderer],
        secrets: dict[str, str],
        on_sample: Callable[[Sample, str], None],
        cancel: threading.Event,
        resources: Resources,
        withheld_env: frozenset[str] = frozenset(),
    ) -> None:
        self.sli = sli
        self.render = render
        self.secrets = secrets
        self.on_sample = on_sample
        self.cancel = cancel
        self.resources = resources
        self.withheld_env = withheld_env

    def sample(self, phase: str) -> Sample:
        """One reading, judged; a probe that raises is unknown, not a crash."""
        try:
            reading = self._read()
        except Exception as exc:
            reading = Reading.failed(f"the probe could not run: {type(exc).__name__}: {exc}")
        result = judge_reading(self.sli, reading)
        self.on_sample(result, phase)
        return result

    def _read(self) -> Reading:
        probe = self.sli.probe
        if not probe_available(probe.type):
            return Reading.failed(f"the {probe.type} probe is not available in this release")
        kind = probe_type(probe.type)
        numeric = kind.reads_number and self.sli.healthy is not None
        return kind.read(
            probe.spec, self.render(), numeric, self.secrets, self.resources, self.withheld_env
        )

    def recovered_after(self, step_id: str, final: bool) -> bool:
        """Settle, then sample: `samples` healthy in a row → True. After a middle step, the
        first bad sample ends the check (the next mitigation runs); after the last step
        the engine keeps sampling until `timeout`."""
        if self.cancel.wait(self.sli.settle):
            return False
        deadline = time.monotonic() + (self.sli.timeout if final else 0.0)
        streak = Streak(self.sli.samples)
        while not self.cancel.is_set():
            streak.add(self.sample(after(step_id)).verdict)
            if streak.recovered:
                return True
            if streak.broken and time.monotonic() >= deadline:
                return False
            if self.cancel.wait(self.sli.interval):
                return False
        return False


PRE_CHECK = "pre-check"


def after(step_id: str) -> str:
    """The phase of the samples taken after step `step_id` (or after "all steps")."""
    return f"after {step_id}"


def judge_reading(sli: Sli, reading: Reading) -> Sample:
    """The verdict on one reading of the SLI's probe: by the `healthy` band when the probe
    reads a number, else the probe's own."""
    kind = sli.probe.type
    numeric = probe_available(kind) and probe_type(kind).reads_number
    return judge(reading, sli.healthy if numeric else None)


def precheck_refusal(sample: Sample) -> str:
    """Why the sample taken before step 1 refuses the run ("" when the SLI is bad, so
    there is something to fix)."""
    if sample.verdict is SliVerdict.HEALTHY:
        return "nothing to fix: the SLI is already healthy (use --force to run anyway)"
    if sample.verdict is SliVerdict.UNKNOWN:
        return f"the SLI cannot be read ({sample.error}); use --force to run blind"
    return ""


class Streak:
    """The stop-on-recovery count: `needed` healthy samples in a row are a recovery, and
    a sample that is not healthy starts the count over."""

    def __init__(self, needed: int) -> None:
        self.needed = needed
        self.count = 0

    def add(self, verdict: SliVerdict) -> None:
        self.count = self.count + 1 if verdict is SliVerdict.HEALTHY else 0

    @property
    def recovered(self) -> bool:
        return self.count >= self.needed

    @property
    def broken(self) -> bool:
        return self.count == 0


def recovery_in(verdicts: Sequence[SliVerdict], needed: int, final: bool) -> int | None:
    """After how many of `verdicts` (the samples taken after one step, in order) the run
    stops on recovery, as `SliChecker.recovered_after` decides; None when it does not:
    after a middle step the first sample that is not healthy ends the check, after the
    last step the samples go on (here: as far as `verdicts` go)."""
    streak = Streak(needed)
    for number, verdict in enumerate(verdicts, start=1):
        streak.add(verdict)
        if streak.recovered:
            return number
        if streak.broken and not final:
            return None
    return None
