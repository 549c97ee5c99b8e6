"""A step type registered only by the tests: a pause that needs a human's hands.

It shows that the engine asks a type whether it needs a terminal instead of knowing
which types do by name.
"""

from __future__ import annotations

from engine.steps.wait import (
    apply,
    capture_name,
    default_timeout,
    expectation,
    is_readonly,
    parse,
    plan,
    undo,
    undoes_itself,
)

__all__ = [
    "apply",
    "capture_name",
    "default_timeout",
    "expectation",
    "is_readonly",
    "parse",
    "plan",
    "undo",
    "undoes_itself",
]

needs_human = True
probed = False
