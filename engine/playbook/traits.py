"""What a step is, as the run loop needs to know it: read-only, mitigating, self-undoing,
whether it needs a human, what it captures. Each answer comes from the step's type.

Kept apart from the checks so that a run imports no more than the model and the
step-type registry.
"""

from __future__ import annotations

from engine.model.playbook import Action, Step
from engine.steps.registry import step_type

__all__ = [
    "capture_name",
    "expectation",
    "is_readonly",
    "mitigates",
    "needs_hands",
    "undo_needs_hands",
    "undoes_itself",
]


def is_readonly(step: Step) -> bool:
    """The author's `readonly:` when given, else what the step type says."""
    if step.readonly is not None:
        return step.readonly
    return _action_readonly(step.action)


def mitigates(step: Step) -> bool:
    """Whether the SLI is checked after this step: `mitigates:` when given, else any
    step that changes something."""
    return step.mitigates if step.mitigates is not None else not is_readonly(step)


def _action_readonly(action: Action) -> bool:
    return action.spec is not None and step_type(action.type).is_readonly(action.spec)


def undoes_itself(step: Step) -> bool:
    spec = step.action.spec
    return spec is not None and step_type(step.action.type).undoes_itself(spec)


def capture_name(step: Step) -> str | None:
    """The name `capture:` stores the step's value under, or None."""
    spec = step.action.spec
    return None if spec is None else step_type(step.action.type).capture_name(spec)


def expectation(step: Step) -> str:
    """What a good result of the step looks like, for a human (the level-1 checklist)."""
    spec = step.action.spec
    return "" if spec is None else step_type(step.action.type).expectation(spec)


def needs_hands(step: Step) -> bool:
    """Whether the step or its undo needs a human (a terminal) to run."""
    return step_type(step.action.type).needs_human or undo_needs_hands(step)


def undo_needs_hands(step: Step) -> bool:
    """Whether the step's declared undo needs a human (a terminal) to run."""
    return step.undo is not None and step_type(step.undo.type).needs_human
