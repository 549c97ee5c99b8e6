"""The variables templates can read during a run, and stand-ins for a dry-run.

Everything here is data: values from outside (inputs, alert labels, step output)
are passed to the sandbox as variables and never rendered as templates.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from msgspec import Struct, field

from engine.core.results import StepResult
from engine.model.playbook import Playbook

OUTPUT_IN_VARIABLES = 64 * 1024


class RunVariables(Struct):
    """Namespaces: inputs, secrets, captures, steps, alert, run, playbook."""

    inputs: Mapping[str, Any]
    secrets: Mapping[str, str]
    run: Mapping[str, Any]
    playbook: Mapping[str, Any]
    alert: Mapping[str, Any] = field(default_factory=dict)
    captures: dict[str, Any] = field(default_factory=dict)
    steps: dict[str, Any] = field(default_factory=dict)

    def as_mapping(self) -> dict[str, Any]:
        return {
            "inputs": self.inputs,
            "secrets": self.secrets,
            "run": self.run,
            "playbook": self.playbook,
            "alert": self.alert,
            "captures": self.captures,
            "steps": self.steps,
        }

    def record(self, step_id: str, capture: str | None, result: StepResult) -> None:
        """Make a finished step's result readable by later steps."""
        self.steps[step_id] = step_view(result)
        if capture is not None and result.ok:
            self.captures[capture] = result.value


def step_view(result: StepResult) -> dict[str, Any]:
    return {
        "status": str(result.status),
        "exit_code": result.exit_code,
        "stdout": result.output[-OUTPUT_IN_VARIABLES:],
        "value": result.value,
    }


def base_variables(
    playbook: Playbook,
    inputs: Mapping[str, Any],
    secrets: Mapping[str, str],
    run_id: str,
    mode: str,
) -> RunVariables:
    meta = playbook.metadata
    return RunVariables(
        inputs=dict(inputs),
        secrets=dict(secrets),
        run={"id": run_id, "mode": mode},
        playbook={"name": meta.name, "version": meta.version, "maturity": meta.maturity},
    )


# Attributes the template sandbox reads on whatever a template calls (not the value's).
_SANDBOX_MARKS = frozenset({"unsafe_callable", "alters_data"})


class Placeholder:
    """Stands for a value only a live run will know (a capture), in a dry-run plan.

    When the type of the value is known (a step's `stdout` is text), only what that
    type has can be read from it, as during the run.
    """

    def __init__(self, path: str, kind: type | None = None) -> None:
        self.path = path
        self.kind = kind

    def __str__(self) -> str:
        return f"<{self.path}>"

    def __getattr__(self, name: str) -> Placeholder:
        if name.startswith("_") or name in _SANDBOX_MARKS:
            raise AttributeError(name)
        if self.kind is not None and not hasattr(self.kind, name):
            raise AttributeError(name)
        return Placeholder(f"{self.path}.{name}")

    def __call__(self, *_: object, **__: object) -> Any:
        """A method of the value (`steps.x.stdout.strip()`): its object is what is unknown."""
        raise UnknownUntilRun(self.path.rpartition(".")[0] or self.path)

    def __getitem__(self, key: object) -> Any:
        if self.kind is not None and not (self.kind is str and isinstance(key, int | slice)):
            from jinja2 import StrictUndefined  # what the run's value gives, worded alike

            return StrictUndefined(hint=f"'{self.kind.__name__} object' has no attribute {key!r}")
        return Placeholder(f"{self.path}[{key!r}]", self.kind)

    def __iter__(self) -> Iterator[Any]:
        return iter(())

    def __bool__(self) -> bool:
        raise UnknownUntilRun(self.path)

    def _unknown(self, *_: object) -> Any:
        raise UnknownUntilRun(self.path)

    # Anything that would decide on the value needs the value: comparisons,
    # arithmetic and conversions all say "unknown until the run".
    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = _unknown
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _unknown
    __truediv__ = __floordiv__ = __mod__ = __contains__ = _unknown
    __int__ = __float__ = __len__ = _unknown
    __hash__ = object.__hash__


class UnknownUntilRun(Exception):
    """A dry-run needed a value that only exists once earlier steps have run."""


class StepPlaceholder(Placeholder):
    """`steps.<id>` in a plan: the fields of a step's result, each of its type."""

    def __getattr__(self, name: str) -> Placeholder:
        if name not in STEP_FIELDS:
            raise AttributeError(name)
        return Placeholder(f"{self.path}.{name}", STEP_FIELDS[name])

    def __getitem__(self, key: object) -> Placeholder:
        if not isinstance(key, str) or key not in STEP_FIELDS:
            raise KeyError(key)
        return Placeholder(f"{self.path}.{key}", STEP_FIELDS[key])


# What `step_view` gives a template, and the type of each (None: any, e.g. JSON).
STEP_FIELDS: dict[str, type | None] = {
    "status": str,
    "exit_code": int,
    "stdout": str,
    "value": None,
}


class PlaceholderNamespace(dict[str, Any]):
    """`captures` / `steps` in a dry-run: every name is a Placeholder."""

    def __init__(self, root: str, known: Mapping[str, Any] | None = None) -> None:
        super().__init__(known or {})
        self.root = root

    def __missing__(self, key: str) -> Placeholder:
        path = f"{self.root}.{key}"
        return StepPlaceholder(path) if self.root == "steps" else Placeholder(path)
