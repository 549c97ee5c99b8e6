"""The one place that maps a YAML step-type key to the module implementing it.

Modules are imported on first use, so a playbook of shell steps never pays for
paramiko or the kubernetes client.
"""

from __future__ import annotations

import importlib
from functools import cache
from typing import cast

from engine.steps.base import StepType

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

# Step types that need a human's hands rather than an undo story of their own.
HUMAN_TYPES = frozenset({"manual"})


@cache
def step_type(name: str) -> StepType:
    """The implementation of step type `name` (a key of STEP_TYPES).

    A module is the implementation itself, unless it exposes one as `STEP`. Looked up
    once per type: the run loop asks several times a step.
    """
    module = importlib.import_module(STEP_TYPES[name])
    return cast(StepType, getattr(module, "STEP", module))


def is_available(name: str) -> bool:
    """False for step types whose format is published but which cannot run yet."""
    return bool(getattr(step_type(name), "available", True))
