"""`kubectl`: one Kubernetes API action. Format published; execution in a later release."""

from __future__ import annotations

from engine.steps.declared import DeclaredType

STEP = DeclaredType(
    "kubectl",
    readonly_actions=frozenset({"get", "logs", "wait", "export"}),
    self_undoing_actions=frozenset(
        {"scale", "cordon", "uncordon", "drain", "patch", "apply", "label", "annotate"}
        | {"rollout_restart", "rollout_undo"}
    ),
)
