"""The playbook as frozen msgspec Structs. Built only by `engine.playbook.build`."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from msgspec import Struct, field

from engine.core.findings import Location
from engine.model.guards import Escalation, Guards


class Matcher(Struct, frozen=True):
    """One Alertmanager label matcher (`severity=~"critical|page"`), as parsed.

    `op` is `=`, `!=`, `=~` or `!~`; `value` is unquoted and unescaped. A regular
    expression is matched whole (`^(?:value)$`), as Alertmanager does
    (`engine.playbook.matchers`).
    """

    name: str
    op: str
    value: str
    text: str = ""

    @property
    def is_regex(self) -> bool:
        return self.op in ("=~", "!~")

    @property
    def negated(self) -> bool:
        return self.op in ("!=", "!~")


class Trigger(Struct, frozen=True):
    """An alert this playbook answers: its name, labels that must equal, and matchers."""

    alertname: str
    labels: Mapping[str, str] = field(default_factory=dict)
    matchers: tuple[Matcher, ...] = ()


class Metadata(Struct, frozen=True):
    """`metadata:`: who the playbook is, its version and its maturity level."""

    name: str
    version: str
    maturity: int
    owner: str = ""
    summary: str = ""
    description: str = ""
    tags: tuple[str, ...] = ()
    triggers: tuple[Trigger, ...] = ()
    # where `version:` is written: a run refused for a reused version points there
    version_location: Location = field(default_factory=lambda: Location(""))


class InputSpec(Struct, frozen=True):
    """One declared input: its type and the checks a given value must pass."""

    name: str
    type: str
    default: Any = None
    required: bool = False
    pattern: str | None = None
    enum: tuple[Any, ...] = ()
    description: str = ""
    allow_leading_dash: bool = False
    location: Location = field(default_factory=lambda: Location(""))
    # `from:` where an alert gives the value: `labels.<name>` or `annotations.<name>`;
    # "" for the default (the label of the input's name, else that annotation).
    source: str = ""


class SecretSpec(Struct, frozen=True):
    """One declared secret: read from an environment variable or a file."""

    name: str
    env: str | None = None
    file: str | None = None


class Retry(Struct, frozen=True):
    """`retry:`: attempts, and the exponential backoff between them."""

    attempts: int = 1
    backoff: float = 1.0
    max_backoff: float = 30.0
    jitter: bool = True


class Action(Struct, frozen=True):
    """One step-type body: `type` is the YAML key, `spec` what its module parsed."""

    type: str
    spec: Any
    location: Location


class Step(Struct, frozen=True):
    """One step: its action, its undo, and the flags that govern how it runs."""

    id: str
    action: Action
    location: Location
    title: str = ""
    description: str = ""
    undo: Action | None = None
    irreversible: str | None = None
    timeout: float | None = None
    retry: Retry = Retry()
    confirm: str | None = None
    when: str | None = None
    mitigates: bool | None = None
    readonly: bool | None = None
    undo_if_interrupted: bool = False

    @property
    def label(self) -> str:
        return self.title or self.id


class Healthy(Struct, frozen=True):
    """`op` is above / below / between / equals."""

    op: str
    low: float
    high: float | None = None

    def accepts(self, value: float) -> bool:
        if self.op == "above":
            return value > self.low
        if self.op == "below":
            return value < self.low
        if self.op == "equals":
            return value == self.low
        return self.low <= value <= (self.high if self.high is not None else self.low)

    def __str__(self) -> str:
        if self.op == "between":
            return f"between {self.low:g} and {self.high:g}"
        return f"{self.op} {self.low:g}"


class Probe(Struct, frozen=True):
    """The SLI probe: its type (`prometheus`, `http`, `command`…) and parsed spec."""

    type: str
    spec: Any
    # The playbook block of a step type whose defaults it reads (the kubernetes probe:
    # `kubernetes:`), or None: preflight checks its context with that type's steps.
    block: str | None = None


class Slo(Struct, frozen=True):
    """`sli.slo:`: the percentage of `window` (seconds; `window_text` as written) the SLI
    must be healthy. `objective` is exact (99.9 is 99.9, not a float near it)."""

    objective: Decimal
    window: float
    window_text: str

    @property
    def budget_fraction(self) -> Decimal:
        """The share of the window the SLI may be unhealthy: 1 - objective/100."""
        return 1 - self.objective / 100

    @property
    def budget_seconds(self) -> float:
        """The error budget of the window, in seconds: window x (1 - objective)."""
        return float(Decimal(repr(self.window)) * self.budget_fraction)


class Sli(Struct, frozen=True):
    """`sli:`: the probe, what healthy means, the timing of the judgement, and the
    objective it serves (None: no SLO declared)."""

    probe: Probe
    healthy: Healthy | None = None
    settle: float = 0.0
    samples: int = 1
    interval: float = 1.0
    timeout: float = 60.0
    on_not_recovered: str = "keep"
    slo: Slo | None = None


DEFAULT_DETECT_WITHIN = 60.0


class Drill(Struct, frozen=True):
    """`drill:`: the steps that inject the fault, and those that take it out."""

    inject: tuple[Step, ...] = ()
    revert: tuple[Step, ...] = ()
    detect_within: float | None = None
    recover_within: float | None = None


class Playbook(Struct, frozen=True):
    """A checked playbook: everything `runbook run` needs, with source locations."""

    file: str
    content_hash: str
    metadata: Metadata
    steps: tuple[Step, ...]
    inputs: Mapping[str, InputSpec] = field(default_factory=dict)
    secrets: Mapping[str, SecretSpec] = field(default_factory=dict)
    targets: tuple[str, ...] = ()
    sli: Sli | None = None
    drill: Drill | None = None
    guards: Guards | None = None  # limits on runs started by alerts (`runbook serve`)
    escalation: Escalation | None = None  # whom to tell when such a run cannot help
    # The top-level blocks whose settings a step type's steps share (`kubernetes:`), by
    # block, as that type parsed them (`engine.steps.registry.PLAYBOOK_HOOKS`).
    step_blocks: Mapping[str, Any] = field(default_factory=dict)
    # The content hash without `metadata.maturity`: what the evidence of maturity is
    # counted by, so a promotion keeps it and any other edit starts it over.
    evidence_hash: str = ""
    # The content hashes of this file at maturity 1, 2 and 3: the same evidence, as runs
    # recorded before the evidence hash know it.
    level_hashes: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.metadata.name
