"""Check raw playbook data against the published JSON Schema, as located findings.

Every error is reported, not the first one, but one per value: a wrong type hides the
other complaints about the same value. `oneOf` failures are narrowed to the branch the
author most likely meant, instead of dumping every alternative.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from functools import cache
from typing import TYPE_CHECKING, Any

from engine.core.findings import Finding
from engine.model.yamlsource import Path as DataPath
from engine.model.yamlsource import Source, dotted
from engine.playbook import ecma
from engine.playbook.explain import (
    STEP_TYPE_KEYS,
    explain,
    is_step_choice,
    misspelt_step_type,
    only_type_errors,
)
from engine.playbook.fastschema import compiled
from engine.playbook.schema_file import schema_text

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError
    from jsonschema.protocols import Validator

__all__ = [
    "STEP_TYPE_KEYS",
    "fast_valid",
    "schema_findings",
    "validator",
]


@cache
def validator() -> Validator:
    """The 2020-12 validator of the shipped schema, with ECMA-262 `pattern`s."""
    from jsonschema import Draft202012Validator, validators

    extended = validators.extend(  # type: ignore[no-untyped-call]
        Draft202012Validator, {"pattern": _ecma_pattern}
    )
    return extended(json.loads(schema_text()))  # type: ignore[no-any-return]


def _ecma_pattern(
    validator: Validator, pattern: str, instance: Any, schema: Any
) -> Iterator[ValidationError]:
    """`pattern` as JSON Schema means it: ECMA-262, not Python's `re`."""
    from jsonschema.exceptions import ValidationError

    if validator.is_type(instance, "string") and not ecma.search(pattern, instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def schema_findings(source: Source) -> list[Finding]:
    """Every schema violation in `source`, each at the position of its node.

    A document the compiled check accepts has none; only the others are checked by
    `jsonschema`, which locates and explains each violation.
    """
    if fast_valid(source.data):
        return []
    errors = sorted(validator().iter_errors(source.data), key=lambda e: list(map(str, e.path)))
    return [_finding(source, error) for error in _one_per_value(errors)]


def fast_valid(data: Any) -> bool:
    """Whether the compiled check accepts `data` (False: ask `jsonschema`)."""
    check = compiled()
    if check is None:
        return False
    try:
        check(data)
    except Exception:  # any refusal or failure means "not known valid"
        return False
    return True


def _one_per_value(errors: list[ValidationError]) -> list[ValidationError]:
    """One complaint per value: its wrong type, or its misspelt step type key."""
    mistyped = _paths(e for e in errors if e.validator == "type")
    unknown = (e for e in errors if e.validator == "additionalProperties")
    misspelt = _paths(e for e in unknown if misspelt_step_type(e))
    return [e for e in errors if not _echo(e, mistyped, misspelt)]


def _paths(errors: Iterable[ValidationError]) -> set[DataPath]:
    return {tuple(error.absolute_path) for error in errors}


def _echo(error: ValidationError, mistyped: set[DataPath], misspelt: set[DataPath]) -> bool:
    """Whether `error` only repeats what another error about the same value says."""
    at = tuple(error.absolute_path)
    if error.validator != "type" and at in mistyped:
        return True
    return is_step_choice(error) and at in misspelt


def _finding(source: Source, error: ValidationError) -> Finding:
    error = _narrow(error)
    path = tuple(error.absolute_path)
    message, hint, on_key = explain(error)
    if on_key:
        path = (*path, on_key)
        return Finding(source.at(path, key=True), dotted(path), message, hint)
    return Finding(source.at(path), dotted(path), message, hint)


def _narrow(error: ValidationError) -> ValidationError:
    """For oneOf/anyOf, descend into the branch that got furthest."""
    from jsonschema.exceptions import best_match

    while error.validator in ("oneOf", "anyOf") and error.context:
        if is_step_choice(error) or only_type_errors(error):
            break
        matching = [e for e in error.context if e.validator != "type"] or list(error.context)
        best = best_match(matching)
        if best is None or best is error:
            break
        error = best
    return error
