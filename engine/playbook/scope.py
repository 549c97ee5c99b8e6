"""What a template may read at one point of a playbook, and why a reference is wrong."""

from __future__ import annotations

import difflib

from msgspec import Struct, field

ROOTS_ALWAYS = frozenset({"inputs", "secrets", "alert", "run", "playbook"})
ROOTS_IN_STEPS = frozenset({"captures", "steps"})
Problem = tuple[str, str]


class Scope(Struct):
    """Names declared, and results produced so far (`later`: by steps still to come)."""

    inputs: frozenset[str]
    secrets: frozenset[str]
    in_steps: bool = False
    captures: set[str] = field(default_factory=set)
    steps: set[str] = field(default_factory=set)
    later_captures: dict[str, str] = field(default_factory=dict)  # capture → step id
    later_steps: set[str] = field(default_factory=set)

    def is_key(self, name: str) -> bool:
        """A declared name (inputs and captures may start with '_'), not a dunder."""
        names = self.inputs | self.secrets | self.captures | set(self.later_captures)
        return not name.startswith("__") and name in names

    def produced(self, step_id: str, captures: list[str]) -> None:
        """The step `step_id` has run: its id and captures are readable from now on."""
        self.steps.add(step_id)
        self.captures.update(captures)


def reference_problem(ref: tuple[str, ...], scope: Scope) -> Problem | None:
    """(message, hint) when `ref` (e.g. ("inputs", "profile")) cannot be read here."""
    root, name = ref[0], ref[1] if len(ref) > 1 else None
    if root in ("inputs", "secrets"):
        declared = scope.inputs if root == "inputs" else scope.secrets
        return _declared_problem(root, name, declared)
    if root in ROOTS_IN_STEPS:
        return _step_problem(root, name, scope)
    if root not in ROOTS_ALWAYS:
        roots = ", ".join(sorted(ROOTS_ALWAYS | ROOTS_IN_STEPS))
        return f"undefined variable {root!r}", f"templates can read: {roots}"
    return None


def _declared_problem(root: str, name: str | None, declared: frozenset[str]) -> Problem | None:
    if name is None or name in declared:
        return None
    listed = ", ".join(sorted(declared)) or "none"
    hint = f"declare it under `{root}:` (declared: {listed})"
    return f"undefined {root[:-1]} {name!r}", _did_you_mean(name, declared, hint)


def _step_problem(root: str, name: str | None, scope: Scope) -> Problem | None:
    if not scope.in_steps:
        message = f"`{root}` cannot be read here: this is rendered before any step runs"
        return message, "only steps can read the results of earlier steps"
    earlier = scope.captures if root == "captures" else scope.steps
    if name is None or name in earlier:
        return None
    if root == "captures":
        return _capture_problem(name, scope)
    if name in scope.later_steps:
        hint = "a step can only read the results of the steps before it"
        return f"step {name!r} has not run yet at this point", hint
    hint = f"steps before this one: {', '.join(sorted(earlier)) or 'none'}"
    return f"undefined step {name!r}", _did_you_mean(name, earlier | scope.later_steps, hint)


def _capture_problem(name: str, scope: Scope) -> Problem:
    producer = scope.later_captures.get(name)
    if producer is not None:
        message = f"capture {name!r} is read before step {producer!r} produces it"
        return message, f"a step can only read earlier steps' captures; move it after {producer!r}"
    known = scope.captures | set(scope.later_captures)
    hint = f"no step has `capture: {name}` (captures: {', '.join(sorted(known)) or 'none'})"
    return f"undefined capture {name!r}", _did_you_mean(name, known, hint)


def _did_you_mean(name: str, known: set[str] | frozenset[str], otherwise: str) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=1)
    return f"did you mean {close[0]!r}?" if close else otherwise
