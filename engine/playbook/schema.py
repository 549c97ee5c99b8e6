"""Check raw playbook data against the published JSON Schema, as located findings.

Every error is reported, not the first one. `oneOf` failures are narrowed to the
branch the author most likely meant, instead of dumping every alternative.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import Finding
from engine.playbook.yamlsource import Source

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError
    from jsonschema.protocols import Validator

SCHEMA_FILE = "playbook.v1.json"
STEP_TYPE_KEYS = ("shell", "ssh", "kubectl", "minikube", "docker_desktop", "http", "manual", "wait")


def schema_path() -> Path:
    """The schema shipped in the wheel, or the one in a source checkout."""
    packaged = Path(__file__).resolve().parent.parent / "_data" / SCHEMA_FILE
    if packaged.is_file():
        return packaged
    return Path(__file__).resolve().parents[2] / "schema" / SCHEMA_FILE


def schema_text() -> str:
    return schema_path().read_text(encoding="utf-8")


@cache
def validator() -> Validator:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(json.loads(schema_text()))


def schema_findings(source: Source) -> list[Finding]:
    """Every schema violation in `source`, each at the position of its node."""
    errors = sorted(validator().iter_errors(source.data), key=lambda e: list(map(str, e.path)))
    return [_finding(source, error) for error in errors]


def dotted(path: tuple[str | int, ...] | list[str | int]) -> str:
    """`steps[2].timeout` style path for messages."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _finding(source: Source, error: ValidationError) -> Finding:
    error = _narrow(error)
    path = tuple(error.absolute_path)
    message, hint, on_key = _explain(error)
    if on_key:
        path = (*path, on_key)
        return Finding(source.at(path, key=True), dotted(path), message, hint)
    return Finding(source.at(path), dotted(path), message, hint)


def _narrow(error: ValidationError) -> ValidationError:
    """For oneOf/anyOf, descend into the branch that got furthest."""
    while error.validator in ("oneOf", "anyOf") and error.context and not _is_type_choice(error):
        matching = [e for e in error.context if _branch_fits_type(e)] or list(error.context)
        from jsonschema.exceptions import best_match

        best = best_match(matching)
        if best is None or best is error:
            break
        error = best
    return error


def _is_type_choice(error: ValidationError) -> bool:
    """A oneOf of branches that differ only in `required` (step type keys)."""
    branches = error.validator_value
    return isinstance(branches, list) and all(set(b) == {"required"} for b in branches)


def _branch_fits_type(error: ValidationError) -> bool:
    return error.validator != "type"


def _explain(error: ValidationError) -> tuple[str, str, str]:
    """(message, hint, key the message is about when it points at a key)."""
    explain = _EXPLAINERS.get(str(error.validator), _explain_default)
    return explain(error)


def _explain_default(error: ValidationError) -> tuple[str, str, str]:
    return error.message, _description(error), ""


def _description(error: ValidationError) -> str:
    schema = error.schema if isinstance(error.schema, dict) else {}
    return str(schema.get("description", ""))


def _explain_additional(error: ValidationError) -> tuple[str, str, str]:
    allowed = sorted(error.schema.get("properties", {})) if isinstance(error.schema, dict) else []
    extra = [key for key in _keys(error.instance) if key not in allowed]
    key = str(extra[0]) if extra else ""
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"allowed keys: {', '.join(allowed)}"
    return f"unknown key {key!r}", hint, key


def _explain_required(error: ValidationError) -> tuple[str, str, str]:
    missing = next(iter(_missing_keys(error)), "?")
    props = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
    hint = str(props.get(missing, {}).get("description", ""))
    return f"missing required key {missing!r}", hint, ""


def _missing_keys(error: ValidationError) -> Iterator[str]:
    for key in _keys(error.validator_value):
        if isinstance(error.instance, dict) and key not in error.instance:
            yield str(key)


def _explain_one_of(error: ValidationError) -> tuple[str, str, str]:
    if not _is_type_choice(error) or not isinstance(error.instance, dict):
        return _explain_default(error)
    present = [key for key in STEP_TYPE_KEYS if key in error.instance]
    if present:
        message = f"a step has exactly one type, this one has {len(present)}: {', '.join(present)}"
        return message, "split it into one step per action", ""
    message = "the step has no type key"
    return message, f"add exactly one of: {', '.join(STEP_TYPE_KEYS)}", ""


def _explain_pattern(error: ValidationError) -> tuple[str, str, str]:
    hint = _description(error)
    if "(ms|s|m|h)" in str(error.validator_value):
        return f"{error.instance!r} is not a duration", "use e.g. 500ms, 30s, 5m or 1h", ""
    return f"{error.instance!r} does not match the expected form", hint, ""


def _explain_type(error: ValidationError) -> tuple[str, str, str]:
    wanted = error.validator_value
    wanted_text = " or ".join(wanted) if isinstance(wanted, list) else str(wanted)
    got = _json_type(error.instance)
    return f"expected {wanted_text}, got {got} {_short(error.instance)}", _description(error), ""


def _explain_enum(error: ValidationError) -> tuple[str, str, str]:
    options = [str(option) for option in _keys(error.validator_value)]
    close = difflib.get_close_matches(str(error.instance), options, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"use one of: {', '.join(options)}"
    return f"{_short(error.instance)} is not one of the allowed values", hint, ""


def _explain_const(error: ValidationError) -> tuple[str, str, str]:
    wanted = error.validator_value
    return f"{_short(error.instance)} is not supported", f"write {wanted!r}", ""


def _keys(value: object) -> list[Any]:
    return list(value) if isinstance(value, dict | list | tuple) else []


def _json_type(value: Any) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}
    names.update({list: "a list", dict: "a mapping", type(None): "null"})
    return names.get(type(value), type(value).__name__)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


_EXPLAINERS = {
    "additionalProperties": _explain_additional,
    "required": _explain_required,
    "oneOf": _explain_one_of,
    "pattern": _explain_pattern,
    "type": _explain_type,
    "enum": _explain_enum,
    "const": _explain_const,
}
