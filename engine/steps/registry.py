"""The one place that maps a YAML step-type key to the module implementing it.

Modules are imported on first use, so a playbook of shell steps never pays for
paramiko or the kubernetes client. mypy checks every module against `StepType` below.
"""

from __future__ import annotations

import importlib
from functools import cache
from typing import Any

from engine.steps.base import PlaybookHook, StepType

STEP_TYPES: dict[str, str] = {
    "shell": "engine.steps.shell",
    "ssh": "engine.steps.ssh",
    "kubectl": "engine.steps.kubectl",
    "minikube": "engine.steps.minikube",
    "docker_desktop": "engine.steps.docker_desktop",
    "http": "engine.steps.http",
    "manual": "engine.steps.manual",
    "wait": "engine.steps.wait",
}

# Step types whose module is also a PlaybookHook (its steps share a top-level block of
# the playbook, which the hook names): loaded whenever a playbook is built or run, so
# keep them light.
PLAYBOOK_HOOKS: tuple[str, ...] = ("kubectl",)


@cache
def step_type(name: str) -> StepType:
    """The implementation of step type `name` (a key of STEP_TYPES).

    A module is the implementation itself, unless it exposes one as `STEP`. Looked up
    once per type: the run loop asks several times a step.
    """
    module: Any = importlib.import_module(STEP_TYPES[name])
    implementation: StepType = getattr(module, "STEP", module)
    return implementation


def playbook_hooks() -> dict[str, PlaybookHook]:
    """The step types that look at the playbook as a whole, by the block they own."""
    hooks = [_hook(owner) for owner in PLAYBOOK_HOOKS]
    return {hook.block: hook for hook in hooks}


def _hook(name: str) -> PlaybookHook:
    module: Any = importlib.import_module(STEP_TYPES[name])
    hook: PlaybookHook = module
    return hook


def needs_human(name: str) -> bool:
    """Whether a step of type `name` needs a human's hands (a terminal)."""
    return step_type(name).needs_human


def is_available(name: str) -> bool:
    """False for step types whose format is published but which cannot run yet."""
    return bool(getattr(step_type(name), "available", True))
