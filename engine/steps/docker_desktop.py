"""`docker_desktop`: a Docker Desktop action. Format published; execution in a later release."""

from __future__ import annotations

from engine.steps.declared import DeclaredType

STEP = DeclaredType(
    "docker_desktop",
    readonly_actions=frozenset({"status", "engine_ping", "check_disk_image"}),
    self_undoing_actions=frozenset({"start", "stop", "context_use"}),
)
