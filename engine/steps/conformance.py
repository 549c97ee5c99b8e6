"""Where mypy checks every step type module against `StepType` (and every playbook hook
against `PlaybookHook`): the registry loads them lazily by name, so it cannot. Nothing
imports this module at run time; a test checks that it names every registered type."""

from __future__ import annotations

from engine.steps import docker_desktop, http, kubectl, manual, minikube, shell, ssh, wait
from engine.steps.base import PlaybookHook, StepType

CHECKED: dict[str, StepType] = {
    "shell": shell,
    "ssh": ssh,
    "kubectl": kubectl,
    "minikube": minikube,
    "docker_desktop": docker_desktop,
    "http": http,
    "manual": manual,
    "wait": wait,
}
HOOKS: dict[str, PlaybookHook] = {"kubectl": kubectl}
