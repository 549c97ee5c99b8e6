"""Plain scalars that YAML 1.1 and YAML 1.2 read differently.

PyYAML reads YAML 1.1, where `yes`, `on`, `y` are booleans, `0755` is octal, `1_000`
and `1:30` are numbers. Editors, check-jsonschema and most tools of today read the
YAML 1.2 core schema, where the first three are text and `0755` is 755. A scalar
whose two readings differ means what the tool says, not what its author meant, so it
is refused (`AMBIGUOUS_TAG`) with a hint to quote it or spell the value out. Every
other scalar reads the same in both, and keeps the tag PyYAML gives it.
"""

from __future__ import annotations

import math
import re
from typing import Any

import yaml

__all__ = ["AMBIGUOUS_TAG", "ambiguity", "ambiguity_message", "describe", "resolve_plain"]

# The tag given to a plain scalar whose two readings differ: no constructor knows it.
AMBIGUOUS_TAG = "tag:runbook-engine,2026:ambiguous"

_TAG = "tag:yaml.org,2002:"
_STR, _NULL, _BOOL, _INT, _FLOAT = (
    f"{_TAG}{kind}" for kind in ("str", "null", "bool", "int", "float")
)
_DATA_TAGS = frozenset({_NULL, _BOOL, _INT, _FLOAT})

# The YAML 1.2 core schema (YAML 1.2.2, section 10.3.2).
_CORE_NULL = re.compile(r"~|null|Null|NULL|")
_CORE_BOOL = re.compile(r"true|True|TRUE|false|False|FALSE")
_CORE_DECIMAL = re.compile(r"[-+]?[0-9]+")
_CORE_OCTAL = re.compile(r"0o[0-7]+")
_CORE_HEX = re.compile(r"0x[0-9a-fA-F]+")
_CORE_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_CORE_INFINITY = re.compile(r"[-+]?\.(inf|Inf|INF)")
_CORE_NAN = re.compile(r"\.(nan|NaN|NAN)")
# YAML 1.1 booleans PyYAML leaves as text, though the 1.1 type repository lists them.
_SPEC_ONLY_BOOLEANS = {"y": True, "Y": True, "n": False, "N": False}

_CONSTRUCTOR = yaml.constructor.SafeConstructor()
_RESOLVER = yaml.resolver.Resolver()


def resolve_plain(text: str, tag11: str) -> str:
    """The tag of a plain scalar: PyYAML's (`tag11`), or AMBIGUOUS_TAG."""
    return AMBIGUOUS_TAG if ambiguity(text, tag11) else tag11


def ambiguity(text: str, tag11: str) -> tuple[Any, Any] | None:
    """(YAML 1.1 value, YAML 1.2 value) of a plain scalar when they differ, else None."""
    if text in _SPEC_ONLY_BOOLEANS:
        return _SPEC_ONLY_BOOLEANS[text], text
    if tag11 not in _DATA_TAGS and tag11 != _STR:
        return None  # `<<`, `=`: not data in either reading, refused as tags
    try:
        old = _value11(text, tag11)
        new = _value12(text)
    except ValueError:  # e.g. more digits than int() converts: not this check's matter
        return None
    if _same(old, new):
        return None
    return old, new


def _value11(text: str, tag: str) -> Any:
    if tag == _STR:
        return text
    construct = _CONSTRUCTOR.yaml_constructors[tag]
    return construct(_CONSTRUCTOR, yaml.ScalarNode(tag, text))


def _value12(text: str) -> Any:
    if _CORE_NULL.fullmatch(text):
        return None
    if _CORE_BOOL.fullmatch(text):
        return text.lower() == "true"
    if _CORE_DECIMAL.fullmatch(text):
        return int(text, 10)
    if _CORE_OCTAL.fullmatch(text):
        return int(text[2:], 8)
    if _CORE_HEX.fullmatch(text):
        return int(text[2:], 16)
    if _CORE_FLOAT.fullmatch(text):
        return float(text)
    if _CORE_INFINITY.fullmatch(text):
        return -math.inf if text.startswith("-") else math.inf
    if _CORE_NAN.fullmatch(text):
        return math.nan
    return text


def _same(old: Any, new: Any) -> bool:
    if type(old) is not type(new):
        return False
    if isinstance(old, float) and math.isnan(old):
        return math.isnan(new)
    return bool(old == new)


def describe(value: Any) -> str:
    """How a reading is named in a message: `true`, `493`, `the text 'yes'`, `null`."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"the text {value!r}"
    try:
        return repr(value)
    except ValueError:  # an integer past Python's 4300-digit limit of int -> str
        return f"an integer of about {int(value.bit_length() * math.log10(2)) + 1} digits"


def ambiguity_message(text: str) -> tuple[str, str]:
    """The message and hint for a plain scalar given AMBIGUOUS_TAG."""
    tag11: str = _RESOLVER.resolve(yaml.ScalarNode, text, (True, False))  # type: ignore[no-untyped-call]
    readings = ambiguity(text, tag11) or (text, text)
    old, new = readings
    message = (
        f"{text!r} means {describe(old)} in YAML 1.1 but {describe(new)} in YAML 1.2;"
        " tools disagree on it"
    )
    if isinstance(old, bool) or isinstance(new, bool):
        hint = f"write true or false for a yes/no value, or quote it ('{text}') for text"
    else:
        hint = f"quote it ('{text}') for text, or write the number in plain decimal"
    return message, hint
