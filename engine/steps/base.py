"""The contract every step type implements, and the values it exchanges with the runner.

A step type is a module exposing the members of `StepType` (mypy checks every module
against it in `engine.steps.registry`); the registry maps the YAML key to the module.
`plan` has no side effects; `apply` may capture undo state; a failed command is a
`StepResult`, while an exception means "could not even try".
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from msgspec import Struct, field

from engine.backends.local.containment import Containment
from engine.core.findings import Location
from engine.core.rendering import Renderer
from engine.core.resources import Resources
from engine.core.results import Planned, StepResult

if TYPE_CHECKING:
    from engine.model.playbook import Playbook, Step

# A step with no `timeout:` still gets a deadline: nothing waits forever.
DEFAULT_STEP_TIMEOUT = 30 * 60.0


class Operator(Protocol):
    """A human at a terminal (or a stand-in that refuses)."""

    def confirm(self, question: str) -> bool: ...

    def checklist(self, title: str, body: str, expect: str) -> tuple[str, str]: ...


class StepContext(Struct):
    """What a step type may use while it runs."""

    step_id: str
    render: Renderer
    operator: Operator
    resources: Resources
    base_dir: Path
    timeout: float | None = None
    on_output: Callable[[str], None] = lambda line: None
    # Called once the step's command is running (the ledger commits alongside it).
    on_started: Callable[[], None] = lambda: None
    cancel: threading.Event = field(default_factory=threading.Event)
    output_cap: int = 64 * 1024
    # The SSH hosts file the run was given (None: $RUNBOOK_INVENTORY or beside the playbook).
    inventory: str | None = None
    # The step being run (None when an undo runs outside a run, as in `runbook rollback`).
    step: Step | None = None
    # Only these hosts of an inventory group (None: all), e.g. to compensate where it succeeded.
    only_hosts: tuple[str, ...] | None = None
    # Where the run's local commands live, so all their processes die with them.
    containment: Containment | None = None
    # The environment variables the run's secrets were read from: no command inherits them.
    withheld_env: frozenset[str] = frozenset()


class StepType(Protocol):
    """What the engine knows of a step type: the members every module in `engine/steps/`
    exposes. The engine asks these, never the type's name."""

    # A human does the work (no terminal: the run is refused before step 1).
    needs_human: bool
    # The deadline of a step that names no `timeout:`; None: it waits as long as it takes.
    default_timeout: float | None
    # Whether `plan --probe` runs a read-only step of this type: False when running it
    # tells nothing (a pause) or needs a human.
    probed: bool
    # The keys of its body whose strings (or argv lists) a shell or program runs: a
    # template there must stay data (`engine.playbook.commands` checks them).
    command_fields: frozenset[str]
    # The keys of its body whose text a command reads on its stdin.
    stdin_fields: frozenset[str]

    def parse(self, body: Any, where: Location) -> Any: ...

    def is_readonly(self, spec: Any) -> bool: ...

    def undoes_itself(self, spec: Any) -> bool: ...

    def plan(self, spec: Any, ctx: StepContext) -> Planned: ...

    def apply(self, spec: Any, ctx: StepContext) -> StepResult: ...

    def undo(self, spec: Any, captured: Mapping[str, Any], ctx: StepContext) -> StepResult: ...

    def capture_name(self, spec: Any) -> str | None:
        """The name `capture:` stores the step's value under, or None."""
        ...

    def expectation(self, spec: Any) -> str:
        """What a good result looks like, for a human (the level-1 checklist)."""
        ...

    def details(self, spec: Any, ctx: StepContext) -> list[Detail]:
        """What a walk-through (`runbook tabletop`) shows of the step beyond its `plan`
        line: a human's whole instructions and expected result, the environment, stdin,
        headers or body a command or request would be sent. Rendered with `ctx.render`
        (a secret is whatever the renderer gives for it); nothing is read or called."""
        ...


class Detail(NamedTuple):
    """One labelled value of a step's `details`, e.g. ("env", "TOKEN=…")."""

    label: str
    text: str


class StepProblem(NamedTuple):
    """A problem a step type finds in one of its steps when it looks at the whole
    playbook: where under the step (e.g. `("kubectl", "timeout")`), what, what to do."""

    step: Step
    path: tuple[str, ...]
    message: str
    hint: str


class PlaybookHook(Protocol):
    """What a step type whose steps share a top-level block of the playbook (kubectl:
    `kubernetes:`) checks of the playbook as a whole. The registry names such types."""

    # The top-level block of the playbook it owns (also the run variables' key).
    block: str

    def parse_block(self, raw: Mapping[str, Any]) -> Any:
        """The block as written (schema-valid; {} when absent) → the model's value."""
        ...

    def problems(self, playbook: Playbook, steps: Sequence[Step]) -> Iterator[StepProblem]:
        """What `validate` reports of `steps` (every step of the playbook, drill included)."""
        ...

    def run_variables(self, playbook: Playbook, environ: Mapping[str, str]) -> Mapping[str, Any]:
        """What the run variables' `playbook` gets, for the steps to read."""
        ...

    def refusal(self, playbook: Playbook, variables: Mapping[str, Any]) -> tuple[str, str]:
        """Why a run of `playbook` must not start, with a hint; ("", "") when it may."""
        ...
