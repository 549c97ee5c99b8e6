"""The SLI probe types: what the engine knows of one (`Probe`), and the one place that
maps a YAML probe key to the module implementing it.

Shaped like `engine.steps.registry`: modules load on first use (the kubernetes probe
pulls in the kubernetes client), and mypy checks every module against `Probe` below.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any, NamedTuple, Protocol

from engine.core.rendering import Renderer
from engine.core.resources import Resources
from engine.sli.judge import Reading
from engine.steps import kubectl

PROBES: dict[str, str] = {
    "prometheus": "engine.sli.prometheus",
    "http": "engine.sli.http",
    "command": "engine.sli.command",
    "kubernetes": "engine.sli.kubernetes",
}

# The probes that read the defaults of a step type's block of the playbook, by probe:
# the kubernetes probe shares the kubectl steps' `kubernetes:` (and preflight's check).
PROBE_BLOCKS: dict[str, str] = {"kubernetes": kubectl.block}


class ProbeProblem(NamedTuple):
    """A problem `validate` reports in a probe's spec: its key, what, what to do."""

    key: str
    message: str
    hint: str


class Probe(Protocol):
    """The members every module in `engine/sli/` that reads an SLI exposes."""

    # Its reading is a number that `healthy:` judges (else the probe judges itself).
    reads_number: bool
    # The keys of its spec whose strings (or argv lists) a shell or program runs.
    command_fields: frozenset[str]

    def read(
        self,
        spec: Mapping[str, Any],
        render: Renderer,
        numeric: bool,
        secrets: Mapping[str, str],
        resources: Resources,
        withheld_env: frozenset[str] = frozenset(),
    ) -> Reading:
        """One reading; `numeric`: judge it by `healthy:`; `secrets`: the run's, by name;
        `resources`: the run's connections, kept across samples (one client per target);
        `withheld_env`: the variables no command it starts may inherit."""
        ...

    def problems(self, spec: Mapping[str, Any]) -> Iterator[ProbeProblem]:
        """What `validate` reports of the (schema-valid) spec beyond the schema."""
        ...


def probe_available(name: str) -> bool:
    """Whether this release can read a probe of type `name`."""
    return name in PROBES


@cache
def probe_type(name: str) -> Probe:
    """The implementation of probe type `name` (a key of PROBES)."""
    module: Any = importlib.import_module(PROBES[name])
    implementation: Probe = module
    return implementation
