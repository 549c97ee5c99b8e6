"""A compiled yes/no check of the playbook schema: the fast path for valid playbooks.

`fastjsonschema` turns the schema into plain Python code that only says whether a
document is valid. A document it accepts needs nothing more; anything else (a refusal,
or any exception at all) goes to `jsonschema`, which gives the located, narrowed
findings. So the fast path may be stricter than `jsonschema` (it then costs one extra
check) but must never be looser: it is used only when every keyword of the schema means
the same in both (`unsupported()`), and otherwise `compiled()` is None.

Generating the code costs ~0.2 s, so the code object is cached in the user's cache
directory ($XDG_CACHE_HOME/runbook-engine, else ~/.cache/runbook-engine), keyed by the
schema as compiled (patterns translated), the fastjsonschema version and the Python
bytecode version. The schema is read at run time, never generated into the source
tree, so an edited schema can never meet stale code. A cache that cannot be read or
written only costs the generation.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import marshal
import sys
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

from engine.core.usercache import cache_dir, read_private, write_atomically
from engine.playbook import ecma
from engine.playbook.schema_file import schema_text

__all__ = ["cache_dir", "compiled", "unsupported"]

FastValidator = Callable[[Any], Any]

# Bump when what is cached changes shape.
_CACHE_FORMAT = "4"

# Keywords that fastjsonschema checks exactly as JSON Schema 2020-12 does, or more
# strictly (`integer` without 1.0); `pattern` once `ecma.to_python` has turned it into
# a Python pattern that matches the same strings; `format`, an annotation, not checked.
_ASSERTIONS = frozenset(
    {
        "type", "enum", "const", "multipleOf", "minimum", "maximum", "exclusiveMinimum",
        "exclusiveMaximum", "minLength", "maxLength", "pattern", "format", "minItems",
        "maxItems", "uniqueItems", "minProperties", "maxProperties", "required",
    }
)  # fmt: skip
_ANNOTATIONS = frozenset(
    {
        "$comment", "title", "description", "default", "examples", "deprecated",
        "readOnly", "writeOnly",
    }
)  # fmt: skip
_ONE_SCHEMA = ("additionalProperties", "items", "propertyNames", "not", "if", "then", "else")
_SCHEMA_MAPS = ("properties", "$defs")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf")
_KNOWN = frozenset(_ASSERTIONS | _ANNOTATIONS | {*_ONE_SCHEMA, *_SCHEMA_MAPS, *_SCHEMA_LISTS})


def unsupported(schema: Any) -> list[str]:
    """Where the schema uses what the fast path could check differently (JSON pointers).

    Anything not known to mean the same is listed: 2020-12 keywords fastjsonschema does
    not implement (`dependentRequired`, `unevaluatedProperties`, `prefixItems`…), a
    `pattern` `ecma.to_python` cannot translate, `patternProperties` (Python keys), a
    `$ref` with sibling assertions (draft-07 code ignores them), a non-local `$ref`, a
    nested `$id`.
    """
    return list(_unsupported(schema, "", root=True))


def _unsupported(schema: Any, at: str, root: bool = False) -> Iterator[str]:
    if isinstance(schema, bool):
        return
    if not isinstance(schema, dict):
        yield at or "/"
        return
    for key, value in schema.items():
        where = f"{at}/{key}"
        if key in ("$schema", "$id") and root:
            continue
        if key == "$ref":
            extra = set(schema) - _ANNOTATIONS - {"$ref"}
            if extra or not isinstance(value, str) or not value.startswith("#/"):
                yield where
        elif key not in _KNOWN:
            yield where
        elif key == "pattern":
            try:
                ecma.to_python(value)
            except (ecma.PatternError, TypeError):
                yield where
        elif key in _ONE_SCHEMA:
            yield from _unsupported(value, where)
        elif key in _SCHEMA_MAPS:
            if not isinstance(value, dict):
                yield where
                continue
            for name, sub in value.items():
                yield from _unsupported(sub, f"{where}/{name}")
        elif key in _SCHEMA_LISTS:
            if not isinstance(value, list):
                yield where
                continue
            for index, sub in enumerate(value):
                yield from _unsupported(sub, f"{where}/{index}")


@cache
def compiled() -> FastValidator | None:
    """The compiled check of the shipped schema, or None when it cannot be trusted."""

    text = schema_text()
    schema = json.loads(text)
    if unsupported(schema):
        return None
    try:
        return _load(schema)
    except Exception:  # no fast path is always a correct answer
        return None


def _load(schema: Any) -> FastValidator:
    import fastjsonschema

    terse = _terse(schema)
    compiled_text = json.dumps(terse, sort_keys=True)  # what is compiled, translated
    key = hashlib.sha256(
        "\0".join(
            (_CACHE_FORMAT, fastjsonschema.VERSION, sys.implementation.cache_tag, compiled_text)
        ).encode()
    ).hexdigest()[:32]
    directory = cache_dir()
    file = directory / f"schema-{key}.bin" if directory else None
    cached = _read(file) if file else None
    if cached is not None:
        with contextlib.suppress(Exception):  # a damaged cache entry is made anew
            return _exec(*cached)
    options: dict[str, Any] = {
        "use_default": False,
        "use_formats": False,  # an annotation in 2020-12, as `jsonschema` reads it
        "detailed_exceptions": False,
    }
    validate = fastjsonschema.compile(terse, **options)
    if file is not None:
        source = fastjsonschema.compile_to_code(terse, **options)
        code = compile(source, "<playbook schema, compiled>", "exec")
        write_atomically(file, marshal.dumps((validate.__name__, code)))
    return validate


def _terse(schema: Any) -> Any:
    """The same schema with each `const: v` written `allOf: [{enum: [v]}]`, and each
    ECMA-262 `pattern` as the Python pattern that matches the same strings.

    The two mean the same, and fastjsonschema checks them with the same code, but
    without detailed exceptions (a third of the checking time, a sixth of the code)
    it cannot word a `const` refusal.
    """
    if not isinstance(schema, dict):
        return schema
    terse: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "const":
            continue
        if key == "pattern":
            value = ecma.to_python(value)
        elif key in _ONE_SCHEMA:
            value = _terse(value)
        elif key in _SCHEMA_MAPS and isinstance(value, dict):
            value = {name: _terse(sub) for name, sub in value.items()}
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            value = [_terse(sub) for sub in value]
        terse[key] = value
    if "const" in schema:
        terse["allOf"] = [*terse.get("allOf", []), {"enum": [schema["const"]]}]
    return terse


def _exec(name: str, code: Any) -> FastValidator:
    namespace: dict[str, Any] = {}
    exec(code, namespace)  # noqa: S102 - code generated by fastjsonschema from our schema
    validate = namespace[name]
    if not callable(validate):
        raise TypeError(name)
    return validate  # type: ignore[no-any-return]


def _read(file: Path) -> tuple[str, Any] | None:
    data = read_private(file)
    if data is None:
        return None
    try:
        value = marshal.loads(data)  # noqa: S302 - our private cache
    except (ValueError, EOFError, TypeError):
        return None
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str):
        return value[0], value[1]
    return None
