"""The published schema compiles in ajv's strict mode: the structural rules it checks.

ajv (what many editors and CI pipelines use) refuses, in strict mode, a union type
(`"type": ["string", "integer"]`; write `anyOf` of single types) and a `required` name
that the same subschema's `properties` does not define. A schema that breaks either
rule works here and fails there, so both are checked on every subschema.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from engine.playbook.schema_file import schema_path

SCHEMA = json.loads(schema_path().read_text(encoding="utf-8"))
_SUBSCHEMA_MAPS = ("properties", "$defs", "patternProperties", "dependentSchemas")
_SUBSCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
_ONE_SUBSCHEMA = (
    "items", "additionalProperties", "propertyNames", "not", "if", "then", "else", "contains",
    "unevaluatedItems", "unevaluatedProperties",
)  # fmt: skip


def subschemas(schema: Any, at: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every subschema (an object) with its JSON pointer."""
    if not isinstance(schema, dict):
        return
    yield at, schema
    for key in _SUBSCHEMA_MAPS:
        for name, sub in schema.get(key, {}).items():
            yield from subschemas(sub, f"{at}/{key}/{name}")
    for key in _SUBSCHEMA_LISTS:
        for index, sub in enumerate(schema.get(key, [])):
            yield from subschemas(sub, f"{at}/{key}/{index}")
    for key in _ONE_SUBSCHEMA:
        if key in schema:
            yield from subschemas(schema[key], f"{at}/{key}")


def union_types(schema: Any) -> list[str]:
    return [at for at, sub in subschemas(schema) if isinstance(sub.get("type"), list)]


def undefined_required(schema: Any) -> list[str]:
    return [
        f"{at}: {name}"
        for at, sub in subschemas(schema)
        for name in sub.get("required", [])
        if name not in sub.get("properties", {})
    ]


def test_the_schema_is_a_valid_2020_12_schema() -> None:
    Draft202012Validator.check_schema(SCHEMA)
    assert len(list(subschemas(SCHEMA))) > 250  # the walk reaches every subschema


def test_no_subschema_has_a_union_type() -> None:
    assert union_types(SCHEMA) == [], "write anyOf: [{type: a}, {type: b}] instead"


def test_every_required_name_is_defined_beside_it() -> None:
    message = "define each required name in the same subschema's properties"
    assert undefined_required(SCHEMA) == [], message


@pytest.mark.parametrize(
    ("schema", "unions", "undefined"),
    [
        ({"type": ["string", "null"]}, ["#"], []),
        (
            {"properties": {"a": {"oneOf": [{"required": ["b"]}]}}},
            [],
            ["#/properties/a/oneOf/0: b"],
        ),
        ({"$defs": {"x": {"items": {"type": ["integer", "string"]}}}}, ["#/$defs/x/items"], []),
        ({"required": ["a"], "properties": {"a": True}}, [], []),
    ],
)
def test_the_rules_catch_what_ajv_refuses(
    schema: dict[str, Any], unions: list[str], undefined: list[str]
) -> None:
    assert (union_types(schema), undefined_required(schema)) == (unions, undefined)
