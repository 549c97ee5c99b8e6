"""A JSON Schema error in the playbook's words: (message, hint, key it is about).

One small function per schema keyword; `explain` picks it. Messages name the value and
what was expected; hints say what to write instead.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from engine.model.yamlsource import type_name
from engine.steps.registry import STEP_TYPES

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError

Explanation = tuple[str, str, str]
STEP_TYPE_KEYS = tuple(STEP_TYPES)  # the keys that name a step type, in the registry's order
DURATION_HINT = "use e.g. 500ms, 30s, 5m or 1h"
_JSON_TYPES = {"object": "a mapping", "array": "a list", "string": "a string"}
_JSON_TYPES.update({"integer": "an integer", "number": "a number", "boolean": "true or false"})
# What a value checked by a `pattern` is, by the key that holds it.
_FORMS = {
    "name": "a valid playbook name",
    "version": "a semantic version",
    "id": "a valid step id",
    "capture": "a valid capture name",
    "from": "labels.<name> or annotations.<name>",
}
_NAMED = {"inputs": "input", "secrets": "secret"}
_UNQUOTED = {
    "boolean": re.compile(r"true|false|yes|no|on|off", re.I),
    "integer": re.compile(r"[-+]?[0-9]+"),
    "number": re.compile(r"[-+]?([0-9]+|[0-9]*\.[0-9]+)"),
}


def explain(error: ValidationError) -> Explanation:
    """(message, hint, key the message is about when it points at a key)."""
    return _EXPLAINERS.get(str(error.validator), _default)(error)


def is_duration(schema: Any) -> bool:
    return isinstance(schema, dict) and "(ms|s|m|h)" in str(schema.get("pattern", ""))


def only_type_errors(error: ValidationError) -> bool:
    """A oneOf/anyOf whose every branch failed on the type of the value itself."""
    return bool(error.context) and all(
        e.validator == "type" and not e.relative_path for e in error.context
    )


def short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _default(error: ValidationError) -> Explanation:
    return error.message, _description(error), ""


def _description(error: ValidationError) -> str:
    schema = error.schema if isinstance(error.schema, dict) else {}
    return str(schema.get("description", ""))


def _not_a_duration(value: Any) -> Explanation:
    hint = DURATION_HINT
    if isinstance(value, int | float) and not isinstance(value, bool):
        hint = f"add a unit, e.g. {value}s or {value}m"
    elif isinstance(value, str) and _LONG_NUMBER.search(value):
        hint = "write at most 9 digits before and after the point, in a larger unit if need be"
    return f"{short(value)} is not a duration", hint, ""


_LONG_NUMBER = re.compile(r"[0-9]{10}")


def unknown_keys(error: ValidationError) -> list[str]:
    """The keys an `additionalProperties` error is about."""
    allowed = _allowed(error)
    return [str(key) for key in _keys(error.instance) if key not in allowed]


def misspelt_step_type(error: ValidationError) -> bool:
    """An unknown key that is a near miss of a step type key (`shel:`)."""
    return any(difflib.get_close_matches(key, STEP_TYPE_KEYS, n=1) for key in unknown_keys(error))


def _allowed(error: ValidationError) -> list[str]:
    return sorted(error.schema.get("properties", {})) if isinstance(error.schema, dict) else []


def _additional(error: ValidationError) -> Explanation:
    allowed = _allowed(error)
    extra = unknown_keys(error)
    key = extra[0] if extra else ""
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"allowed keys: {', '.join(allowed)}"
    return f"unknown key {key!r}", hint, key


def _required(error: ValidationError) -> Explanation:
    missing = _missing_key(error)
    props = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
    hint = str(props.get(missing, {}).get("description", ""))
    return f"missing required key {missing!r}", hint, ""


def _missing_key(error: ValidationError) -> str:
    """The one key this error is about: `required` yields one error per missing key,
    each naming its key in the message (the list of required keys names them all)."""
    instance = error.instance if isinstance(error.instance, dict) else {}
    missing = [str(k) for k in _keys(error.validator_value) if k not in instance]
    named = next((key for key in missing if error.message.startswith(repr(key))), None)
    return named or (missing[0] if missing else "?")


def _one_of(error: ValidationError) -> Explanation:
    if only_type_errors(error):
        return _wrong_type(error, [str(e.validator_value) for e in error.context])
    if not isinstance(error.instance, dict) or not is_step_choice(error):
        return _default(error)
    present = [key for key in STEP_TYPE_KEYS if key in error.instance]
    if present:
        message = f"a step has exactly one type, this one has {len(present)}: {', '.join(present)}"
        return message, "split it into one step per action", ""
    return "the step has no type key", f"add exactly one of: {', '.join(STEP_TYPE_KEYS)}", ""


def is_step_choice(error: ValidationError) -> bool:
    """The step's oneOf: branches that differ only in which type key is required."""
    branches = error.validator_value
    if error.validator != "oneOf" or not isinstance(branches, list):
        return False
    return all(isinstance(b, dict) and set(b) <= {"required", "properties"} for b in branches)


def _pattern(error: ValidationError) -> Explanation:
    if is_duration(error.schema):
        return _not_a_duration(error.instance)
    if "propertyNames" in error.schema_path:
        return _bad_name(error)
    last = error.path[-1] if error.path else ""
    form = _FORMS.get(str(last), "of the expected form")
    return f"{short(error.instance)} is not {form}", _description(error), ""


def _bad_name(error: ValidationError) -> Explanation:
    """A key of `inputs:` / `secrets:` that is not an identifier (reported at the key)."""
    name = str(error.instance)
    what = _NAMED.get(str(error.path[-1]) if error.path else "", "key")
    fixed = re.sub(r"\W", "_", name.lower())
    fixed = f"_{fixed}" if fixed[:1].isdigit() else fixed
    hint = f"use lower-case letters, digits and '_', e.g. {fixed!r}"
    return f"{what} name {name!r} is not an identifier", hint, name


def _type(error: ValidationError) -> Explanation:
    if is_duration(error.schema):
        return _not_a_duration(error.instance)
    wanted = error.validator_value
    return _wrong_type(
        error, [wanted] if isinstance(wanted, str) else list(map(str, _keys(wanted)))
    )


def _wrong_type(error: ValidationError, wanted: list[str]) -> Explanation:
    wanted_text = " or ".join(_JSON_TYPES.get(name, name) for name in wanted)
    value = error.instance
    got = type_name(value)
    if not isinstance(value, dict | list) and value is not None:
        got = f"{got} {short(value)}"
    return f"expected {wanted_text}, got {got}", _type_hint(error, wanted), ""


def _type_hint(error: ValidationError, wanted: list[str]) -> str:
    value, description = error.instance, _description(error)
    if isinstance(value, str) and any(_fits(value, name) for name in wanted):
        return f"remove the quotes around {value}"
    if "string" in wanted and isinstance(value, bool | int | float):
        return f"YAML reads this as {type_name(value)}; put it in quotes. {description}".strip()
    return description


def _fits(text: str, json_type: str) -> bool:
    pattern = _UNQUOTED.get(json_type)
    return pattern is not None and pattern.fullmatch(text) is not None


def _enum(error: ValidationError) -> Explanation:
    options = [str(option) for option in _keys(error.validator_value)]
    close = difflib.get_close_matches(str(error.instance), options, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"use one of: {', '.join(options)}"
    return f"{short(error.instance)} is not one of the allowed values", hint, ""


def _const(error: ValidationError) -> Explanation:
    return f"{short(error.instance)} is not supported", f"write {error.validator_value!r}", ""


def _min_items(error: ValidationError) -> Explanation:
    count, needed = len(_keys(error.instance)), error.validator_value
    plural = "" if needed == 1 else "s"
    return f"needs at least {needed} item{plural}, has {count}", _description(error), ""


def _min_length(error: ValidationError) -> Explanation:
    return "must not be empty", _description(error), ""


def _property_count(error: ValidationError) -> Explanation:
    """`minProperties`/`maxProperties` of 1: a choice of exactly one key (probe, healthy)."""
    allowed = _allowed(error)
    present = [str(key) for key in _keys(error.instance)]
    got = f"has {len(present)}: {', '.join(present)}" if present else "is empty"
    return f"needs exactly one of: {', '.join(allowed)}; this {got}", _description(error), ""


def _keys(value: object) -> list[Any]:
    return list(value) if isinstance(value, dict | list | tuple) else []


_EXPLAINERS: dict[str, Callable[[ValidationError], Explanation]] = {
    "additionalProperties": _additional,
    "required": _required,
    "oneOf": _one_of,
    "anyOf": _one_of,
    "pattern": _pattern,
    "type": _type,
    "enum": _enum,
    "const": _const,
    "minItems": _min_items,
    "minLength": _min_length,
    "minProperties": _property_count,
    "maxProperties": _property_count,
}
