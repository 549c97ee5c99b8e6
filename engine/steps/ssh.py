"""`ssh`: a command on a remote host. Format published; execution in a later release."""

from __future__ import annotations

from engine.steps.declared import DeclaredSpec, DeclaredType


def _command_may_change_anything(spec: DeclaredSpec) -> bool:
    return False  # authors mark read-only commands with `readonly: true`


STEP = DeclaredType("ssh", readonly_rule=_command_may_change_anything)
