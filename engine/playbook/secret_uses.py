"""Which declared secrets the undos of some steps read, found in their templates without
rendering them: a rollback needs those and no other, and its preview lists them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import msgspec

from engine.model.playbook import Action, Playbook, Step
from engine.playbook.templates import references
from engine.playbook.traits import undoes_itself


def secrets_read_by_undos(playbook: Playbook, steps: Iterable[Step]) -> list[str]:
    """The declared secrets the undos of `steps` read, in the order they are declared.

    An undo reads the templates of its `undo:`; a step whose type undoes it reads its own
    (the type undoes with the step's settings); both read the blocks the step types share
    (`kubernetes:`). A template that reads a secret by a computed name may read any.
    """
    read: set[str] = set()
    actions = [action for step in steps for action in _undo_actions(step)]
    if actions:
        nodes = [msgspec.to_builtins(action.spec) for action in actions]
        nodes.append(msgspec.to_builtins(dict(playbook.step_blocks)))
        for template in _templates(nodes):
            for ref in references(template):
                if ref[0] == "secrets":
                    read |= {ref[1]} if len(ref) > 1 else set(playbook.secrets)
    return [name for name in playbook.secrets if name in read]


def _undo_actions(step: Step) -> list[Action]:
    if step.undo is not None:
        return [step.undo]
    return [step.action] if undoes_itself(step) else []


def _templates(node: Any) -> Iterator[str]:
    """Every text in `node` (built-in values: lists, mappings, text) that holds a template."""
    if isinstance(node, str):
        if "{{" in node or "{%" in node:
            yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _templates(value)
    elif isinstance(node, list | tuple):
        for item in node:
            yield from _templates(item)
