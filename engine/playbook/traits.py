"""What a step is, as the run loop needs to know it: read-only, mitigating, self-undoing.

Kept apart from the checks so that a run imports no more than the model and the
step-type registry.
"""

from __future__ import annotations

from engine.playbook.model import Action, Step
from engine.steps.registry import step_type

__all__ = ["is_readonly", "mitigates", "undoes_itself"]


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
