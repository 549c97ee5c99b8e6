"""Sampling an SLI: the pre-check, and waiting for recovery after a mitigation."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

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
        result = judge(reading, self.sli.healthy if self._reads_number() else None)
        self.on_sample(result, phase)
        return result

    def _reads_number(self) -> bool:
        kind = self.sli.probe.type
        return probe_available(kind) and probe_type(kind).reads_number

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
        streak = 0
        while not self.cancel.is_set():
            sample = self.sample(f"after {step_id}")
            streak = streak + 1 if sample.verdict is SliVerdict.HEALTHY else 0
            if streak >= self.sli.samples:
                return True
            if streak == 0 and time.monotonic() >= deadline:
                return False
            if self.cancel.wait(self.sli.interval):
                return False
        return False
