"""`minikube`: a minikube profile action. Format published; execution in a later release."""

from __future__ import annotations

from engine.steps.declared import DeclaredType

STEP = DeclaredType(
    "minikube",
    readonly_actions=frozenset({"status", "logs"}),
    self_undoing_actions=frozenset({"start", "stop", "addons"}),
)
