"""What a backend needs of the step it runs for: its deadline, its output callback, its
cancel flag, the run's connections and renderer, and where its processes are contained.
`engine.steps.base.StepContext` has all of it; backends ask for no more."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol

from engine.backends.local.containment import Containment
from engine.core.rendering import Renderer
from engine.core.resources import Resources


class StepRun(Protocol):
    """The running step, as a backend sees it (read-only)."""

    @property
    def timeout(self) -> float | None: ...

    @property
    def on_output(self) -> Callable[[str], None]: ...

    @property
    def cancel(self) -> threading.Event: ...

    @property
    def output_cap(self) -> int: ...

    @property
    def containment(self) -> Containment | None: ...

    @property
    def render(self) -> Renderer: ...

    @property
    def resources(self) -> Resources: ...

    @property
    def withheld_env(self) -> frozenset[str]: ...
