"""Reading a case file: the playbook loader's YAML with positions, then the published
schema (schema/case.v1.json), every violation at its `file:line:col` (exit 2)."""

from __future__ import annotations

import hashlib
import json
import os
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from msgspec import Struct

from engine.core.errors import InvalidPlaybook, UsageError
from engine.core.findings import Finding, Location
from engine.model.textfile import read_bounded
from engine.model.yamlsource import Source, dotted, load_source
from engine.modes.regress.case import Case, case_of
from engine.playbook.loader import load_playbook

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError
    from jsonschema.protocols import Validator

SCHEMA_FILE = "case.v1.json"
HINT = (
    "a case file is what `runbook regress ID -o CASE.yaml` writes; its schema is"
    " schema/case.v1.json"
)


class ReadCase(Struct, frozen=True):
    """A case as read: itself, its file, and the sha256 of the file's text."""

    case: Case
    file: str
    sha256: str
    file_at: Location | None = None  # where the case names its playbook

    def playbook_file(self, given: str | None = None) -> str:
        """The playbook to drill the case with: `given`, else the one the case names (a
        relative path is relative to the case's folder; InvalidPlaybook, exit 2, at that
        line of the case when nothing is there). UsageError (exit 2) when it is another
        playbook than the case's (another `metadata.name`)."""
        file = given if given is not None else self._named_file()
        name = load_playbook(file).name
        if name != self.case.source.playbook:
            raise UsageError(
                f"{file} is the playbook {name!r}; the case {self.file} is of"
                f" {self.case.source.playbook!r}",
                "drill the case with its own playbook, or make a case of this one"
                " (runbook regress RUN_ID -o CASE.yaml)",
            )
        return file

    def _named_file(self) -> str:
        named = Path(self.case.source.file)
        path = named if named.is_absolute() else Path(self.file).parent / named
        if not os.path.lexists(path):
            at = self.file_at or Location(self.file, 1, 1)
            problem = f"{path} is not there (moved or renamed since the case was made?)"
            hint = (
                "point `file` at the playbook where it is now (relative to the case's"
                " folder), or name it: runbook drill PLAYBOOK --case CASE.yaml"
            )
            raise InvalidPlaybook([Finding(at, "source.file", problem, hint)])
        return str(path)


def read_case(file: str) -> ReadCase:
    """The case in `file`; InvalidPlaybook (exit 2) with every finding at its place."""
    text = read_bounded(file)
    source = load_source(file, text)
    findings = schema_findings(source)
    if findings:
        raise InvalidPlaybook(findings)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return ReadCase(case_of(source.data), file, digest, source.at(("source", "file")))


def schema_findings(source: Source) -> list[Finding]:
    """Every violation of the case schema, one per value, at the position of its node."""
    errors = sorted(validator().iter_errors(source.data), key=lambda e: list(map(str, e.path)))
    typed = {tuple(e.absolute_path) for e in errors if e.validator == "type"}
    kept = [e for e in errors if e.validator == "type" or tuple(e.absolute_path) not in typed]
    return [_finding(source, error) for error in kept]


def schema_path() -> Path:
    """The case schema shipped in the wheel, or the one in a source checkout."""
    packaged = Path(__file__).resolve().parents[2] / "_data" / SCHEMA_FILE
    if packaged.is_file():
        return packaged
    return Path(__file__).resolve().parents[3] / "schema" / SCHEMA_FILE


@cache
def validator() -> Validator:
    from jsonschema import Draft202012Validator

    schema = json.loads(schema_path().read_text(encoding="utf-8"))
    return Draft202012Validator(schema)


def _finding(source: Source, error: ValidationError) -> Finding:
    path = tuple(error.absolute_path)
    if error.validator == "additionalProperties":
        unknown = _unknown_keys(error)
        if unknown:
            at = (*path, unknown[0])
            allowed = ", ".join(sorted(_properties(error)))
            message = f"unknown key {unknown[0]!r}"
            return Finding(source.at(at, key=True), dotted(at), message, f"known: {allowed}")
    if error.validator == "required":
        return Finding(source.at(path, key=True), dotted(path), error.message, HINT)
    if error.validator == "not" and error.validator_value == _NO_PATH:
        at = (*path, "steps")
        return Finding(source.at(at, key=True), dotted(at), _said(error), HINT)
    return Finding(source.at(path), dotted(path), _said(error), HINT)


_NO_PATH = {"required": ["steps"]}  # the schema's `not` for the expect of a failed run's case


def _unknown_keys(error: ValidationError) -> list[str]:
    known = _properties(error)
    instance: Any = error.instance
    return [str(key) for key in instance if key not in known] if isinstance(instance, dict) else []


def _properties(error: ValidationError) -> dict[str, Any]:
    schema = error.schema
    found = schema.get("properties") if isinstance(schema, dict) else None
    return found if isinstance(found, dict) else {}


def _said(error: ValidationError) -> str:
    if error.validator == "not" and error.validator_value == _NO_PATH:
        return (
            "a case of a failed run (one with `observed:`) enforces no path: leave out"
            " expect.steps (the failed run's path is observed.steps)"
        )
    if error.validator in ("enum", "const"):
        wanted = error.validator_value
        choices = wanted if isinstance(wanted, list) else [wanted]
        return f"{error.instance!r} is not one of {', '.join(map(repr, choices))}"
    return error.message
