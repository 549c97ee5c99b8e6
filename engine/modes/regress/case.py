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
SLI_TIMEOUT = "sli_timeout"  # T is the SLI's `timeout` (a case of a failed run)
WITHIN_OPTION = "within_option"  # T is `runbook regress --within` (a case of a failed run)
MARGIN = 2.0
MIN_SLACK = 10.0  # seconds T leaves above a short observed time (a loaded CI machine)


class Source(Struct, frozen=True, omit_defaults=True):
    """The run or drill the case was made from, and the playbook it ran."""

    kind: str  # run | drill
    id: str
    playbook: str
    version: str
    content_hash: str
    file: str  # as written: relative to the case file's folder, or absolute
    mode: str = ""
    at: str = ""
    outcome: str = ""  # how the run ended: a case of a failed run says failed or not_recovered
    incident: str = ""  # the incident the case was made of (`runbook regress INCIDENT_ID`)


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
    # The declared secrets `runbook regress` could not read (`NAME (env VAR)`): their
    # values were not looked for in the labels, annotations and inputs.
    unscrubbed: list[str] = field(default_factory=list)


class Fault(Struct, frozen=True, omit_defaults=True):
    inject: str | None  # INJECT, or None: the playbook has no drill section
    steps: list[str] = field(default_factory=list)
    note: str = ""


class PathStep(Struct, frozen=True):
    id: str
    path: str  # RAN | SKIPPED | NOT_REACHED


class Expect(Struct, frozen=True, omit_defaults=True):
    outcome: str
    within: float
    basis: str
    steps: list[PathStep] = field(default_factory=list)  # none: the path is not enforced
    observed: float | None = None
    no_failed_undo: bool = True


class Observed(Struct, frozen=True):
    """What the failed run a case was made of did: kept to be read, never enforced (a
    fixed playbook is expected to take another path)."""

    outcome: str
    seconds: float
    steps: list[PathStep]


class Metadata(Struct, frozen=True):
    name: str
    created: str = ""


class Case(Struct, frozen=True):
    metadata: Metadata
    source: Source
    fault_context: FaultContext
    fault: Fault
    expect: Expect
    observed: Observed | None = None  # a case of a failed run: what that run did
    apiVersion: str = API_VERSION  # the file's key
    kind: str = KIND

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def of_failed_run(self) -> bool:
        """Made of a run that failed: the expectation is to recover, the path is free."""
        return self.observed is not None


def case_data(case: Case) -> dict[str, Any]:
    """The case as plain data, in the order the file shows it."""
    data: dict[str, Any] = msgspec.to_builtins(case)
    within = case.expect.within
    data["expect"]["within"] = int(within) if within.is_integer() else within
    data["expect"].setdefault("no_failed_undo", True)
    if not case.fault_context.unscrubbed:
        del data["fault_context"]["unscrubbed"]
    return {
        key: data[key] for key in ("apiVersion", "kind", *_SECTIONS) if data.get(key) is not None
    }


def case_of(data: Any) -> Case:
    """Data the schema accepted, as a Case."""
    return msgspec.convert(data, Case)


_SECTIONS = ("metadata", "source", "fault_context", "fault", "expect", "observed")


def within_of(observed: float) -> float:
    """T for an observed time to recovery: times MARGIN, at least MIN_SLACK more, rounded up
    to a whole second."""
    return float(-(-max(observed * MARGIN, observed + MIN_SLACK) // 1))
