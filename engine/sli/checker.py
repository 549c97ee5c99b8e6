"""Sampling an SLI: the pre-check, and waiting for recovery after a mitigation."""

from __future__ import annotations

import importlib
import threading
import time
from collections.abc import Callable
from typing import Any

from engine.playbook.model import Sli
from engine.sli.judge import Reading, Sample, SliVerdict, judge
from engine.steps.base import Renderer, Resources

PROBES = {
    "prometheus": "engine.sli.prometheus",
    "http": "engine.sli.http",
    "command": "engine.sli.command",
    "kubernetes": "engine.sli.kubernetes",
}
# Probes whose reading is a number that `healthy:` judges.
NUMERIC = frozenset({"prometheus", "command"})


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
    ) -> None:
        self.sli = sli
        self.render = render
        self.secrets = secrets
        self.on_sample = on_sample
        self.cancel = cancel
        self.resources = resources

    def sample(self, phase: str) -> Sample:
        """One reading, judged; a probe that raises is unknown, not a crash."""
        try:
            reading = self._read()
        except Exception as exc:
            reading = Reading.failed(f"the probe could not run: {type(exc).__name__}: {exc}")
        numeric = self.sli.probe.type in NUMERIC
        result = judge(reading, self.sli.healthy if numeric else None)
        self.on_sample(result, phase)
        return result

    def _read(self) -> Reading:
        probe = self.sli.probe
        if probe.type not in PROBES:
            return Reading.failed(f"the {probe.type} probe is not available in this release")
        module: Any = importlib.import_module(PROBES[probe.type])
        numeric = probe.type in NUMERIC and self.sli.healthy is not None
        if probe.type == "prometheus":
            token = self.secrets.get(probe.spec.get("bearer_token_secret", ""), "")
            return module.read(probe.spec, self.render(), numeric, token)  # type: ignore[no-any-return]
        if probe.type == "kubernetes":
            return module.read(probe.spec, self.render(), numeric, self.resources)  # type: ignore[no-any-return]
        return module.read(probe.spec, self.render(), numeric)  # type: ignore[no-any-return]

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
