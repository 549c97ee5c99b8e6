"""`runbook schema`: the published schemas, as the files in schema/ hold them."""

from __future__ import annotations

import json

import yaml
from jsonschema import Draft202012Validator
from sli_helpers import run_cli
from tree import REPO, TESTS


def test_schema_case_prints_the_case_schema_which_accepts_the_valid_cases() -> None:
    done = run_cli("schema", "--case")
    playbook = run_cli("schema")

    assert done.returncode == 0, done.stderr
    assert done.stdout == (REPO / "schema" / "case.v1.json").read_text(encoding="utf-8")
    schema = json.loads(done.stdout)
    Draft202012Validator.check_schema(schema)
    for path in sorted((TESTS / "playbooks" / "cases" / "valid").glob("*.yaml")):
        Draft202012Validator(schema).validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    assert json.loads(playbook.stdout)["$id"].endswith("/playbook.v1.json")  # without --case
