"""A regression case as held once read: where it came from, the fault context (the
alert and the inputs), the fault to inject, and what the playbook must do again."""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import Struct, field

API_VERSION = "runbook/v1"
KIND = "RegressionCase"
INJECT = "drill.inject"  # the fault a case injects: the playbook's own drill section

# Where a step was on the recorded path.
RAN = "ran"
SKIPPED = "skipped"  # its `when:` was false
NOT_REACHED = "not_reached"  # the SLI recovered before it, or the run ended before it

OBSERVED = "observed"  # T is the observed time to recovery times MARGIN, rounded up
RECOVER_WITHIN = "recover_within"  # T is the drill's `recover_within`
MARGIN = 2.0
MIN_SLACK = 10.0  # seconds T leaves above a short observed time (a loaded CI machine)


class Source(Struct, frozen=True):
    """The run or drill the case was made from, and the playbook it ran."""

    kind: str  # run | drill
    id: str
    playbook: str
    version: str
    content_hash: str
    file: str  # as written: relative to the case file's folder, or absolute
    mode: str = ""
    at: str = ""


class Alert(Struct, frozen=True, omit_defaults=True):
    """The alert that started the run (empty for a run a person started)."""

    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    startsAt: str = ""  # Alertmanager's name, as templates read it
    fingerprint: str = ""
    note: str = ""

    def namespace(self) -> dict[str, Any]:
        """The `alert` variables a drill of the case gives its templates."""
        if not (self.labels or self.annotations or self.fingerprint):
            return {}
        return {
            "status": "firing",
            "labels": dict(self.labels),
            "annotations": dict(self.annotations),
            "startsAt": self.startsAt,
            "endsAt": "0001-01-01T00:00:00Z",
            "fingerprint": self.fingerprint,
            "generatorURL": "",
        }


class FaultContext(Struct, frozen=True):
    alert: Alert = field(default_factory=Alert)
    inputs: dict[str, Any] = field(default_factory=dict)
    supply: list[str] = field(default_factory=list)  # recorded redacted: give them again


class Fault(Struct, frozen=True, omit_defaults=True):
    inject: str | None  # INJECT, or None: the playbook has no drill section
    steps: list[str] = field(default_factory=list)
    note: str = ""


class PathStep(Struct, frozen=True):
    id: str
    path: str  # RAN | SKIPPED | NOT_REACHED


class Expect(Struct, frozen=True):
    outcome: str
    within: float
    basis: str
    steps: list[PathStep]
    observed: float | None = None
    no_failed_undo: bool = True


class Metadata(Struct, frozen=True):
    name: str
    created: str = ""


class Case(Struct, frozen=True):
    metadata: Metadata
    source: Source
    fault_context: FaultContext
    fault: Fault
    expect: Expect
    apiVersion: str = API_VERSION  # the file's key
    kind: str = KIND

    @property
    def name(self) -> str:
        return self.metadata.name


def case_data(case: Case) -> dict[str, Any]:
    """The case as plain data, in the order the file shows it."""
    data: dict[str, Any] = msgspec.to_builtins(case)
    within = case.expect.within
    data["expect"]["within"] = int(within) if within.is_integer() else within
    return {key: data[key] for key in ("apiVersion", "kind", *_SECTIONS)}


def case_of(data: Any) -> Case:
    """Data the schema accepted, as a Case."""
    return msgspec.convert(data, Case)


_SECTIONS = ("metadata", "source", "fault_context", "fault", "expect")


def within_of(observed: float) -> float:
    """T for an observed time to recovery: times MARGIN, at least MIN_SLACK more, rounded up
    to a whole second."""
    return float(-(-max(observed * MARGIN, observed + MIN_SLACK) // 1))
