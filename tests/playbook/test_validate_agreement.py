"""`runbook validate` and an independent validator give the same verdict.

check-jsonschema reads YAML 1.2 (ruamel.yaml), validates JSON Schema 2020-12 and
matches `pattern` as ECMA-262 (regress): what editors, ajv and CI pipelines do. It is
run once over every playbook we have. A file `runbook validate` accepts, it accepts.
Each broken file of `tests/playbooks/invalid/` is classified below by why it is
broken, and the class says what the independent validator must answer:

- a schema matter (the default): it refuses the file too;
- SEMANTIC: a rule no JSON Schema can state (references between parts, uniqueness,
  maturity rules, templates, ranges): it accepts the file, and the engine found the
  problem only after the schema passed;
- STRICTER_YAML: YAML 1.2 data the engine's reader refuses on purpose: it accepts
  the file, and the engine refused it before the schema;
- NOT_RUN: files that break the independent tool itself; only the engine reads them.

A file in the wrong class fails: the classification cannot drift from the facts.
"""

from __future__ import annotations

import json
import subprocess
import sys
from functools import cache

import pytest
from tree import REPO

from engine.core.errors import InvalidPlaybook
from engine.model.yamlsource import load_source
from engine.playbook.loader import check_file
from engine.playbook.schema import schema_findings
from engine.playbook.schema_file import schema_path

INVALID = REPO / "tests" / "playbooks" / "invalid"
VALID_DIRS = [REPO / "tests" / "playbooks" / d for d in ("valid", "run", "ssh", "kube")]
SHIPPED = REPO / "playbooks"

SEMANTIC = {
    "references": [
        "capture-before-producer", "undefined-capture", "undefined-input", "undefined-secret",
        "undefined-step", "step-reference-in-targets", "step-reference-later",
        "when-undefined-input",
    ],
    "uniqueness": ["duplicate-capture", "duplicate-step-id", "duplicate-step-id-drill"],
    "maturity and reversibility": [
        "level3-confirm", "level3-manual-step", "level3-no-sli", "level3-no-targets",
        "level3-no-timeout", "level3-no-triggers", "mutating-without-undo",
        "undo-and-irreversible",
    ],
    "templates": [
        "template-private-attribute", "template-root-cycler", "template-root-unknown",
        "template-number-too-long", "template-syntax-error", "template-syntax-in-block",
        "template-unclosed-block",
        "when-does-not-parse", "when-with-braces",
    ],
    "an input's default or enum against its own declaration": [
        "input-default-leading-dash", "input-default-mismatch", "input-default-nul",
        "input-default-not-in-enum", "input-default-wrong-type", "input-enum-unreachable",
    ],
    "what a step type or the shell accepts": [
        "secret-by-computed-name-in-argv", "secret-in-argv", "secret-in-target",
        "secret-on-command-line", "shell-env-name", "shell-expect-bad-regex",
    ],
    "where a value in a command would be read as code": [
        "template-in-arithmetic", "template-in-heredoc", "template-in-interpreter-script",
        "template-in-probe-and-minikube-command", "template-in-shell-script-argv",
        "template-in-shell-script-string", "template-in-single-quotes",
        "template-in-ssh-remote-command",
    ],
    "triggers: Alertmanager's matcher syntax, RE2 regular expressions, no templates": [
        "trigger-matcher-bad-regex", "trigger-matcher-malformed", "trigger-with-template",
    ],
    "patterns that text from outside the playbook meets: only what RE2 runs": [
        "input-pattern-backtracking", "shell-expect-lookahead",
    ],
    "ranges whose ends are the wrong way round": [
        "healthy-between-reversed", "retry-backoff-past-cap", "http-probe-latency-past-timeout",
        "kubectl-timeout-past-step",
    ],
    "an SLO with no error budget to count: an objective of 0% or a window of no time": [
        "slo-objective-zero", "slo-window-zero",
    ],
}  # fmt: skip
STRICTER_YAML = {
    "merge keys (<<) are YAML 1.1; the engine refuses them": ["merge-key"],
    "YAML 1.2 lets an anchor be redefined; the engine refuses the second": [
        "yaml-duplicate-anchor"
    ],
    "NaN and infinity are YAML numbers but no threshold or value can use them": [
        "healthy-nan", "number-infinite",
    ],
    "integers past 2^53 - 1: JavaScript tools (ajv, editors) read them inexactly": [
        "number-beyond-json",
    ],
}  # fmt: skip
NOT_RUN = {
    "alias-bomb": "a billion-laughs document: the independent validator would expand it",
    "alias-recursive": "a recursive alias crashes check-jsonschema's loader (RecursionError)",
    "number-too-many-digits": "5,000 digits crash check-jsonschema's loader (int() refuses)",
    "number-too-long": "5,000 digits crash check-jsonschema's loader (int() refuses)",
    "tag-bool-not-a-boolean": "`!!bool maybe` crashes check-jsonschema's loader (KeyError)",
    "tag-int-not-a-number": "`!!int two` crashes check-jsonschema's loader (ValueError)",
}


def _names(groups: dict[str, list[str]]) -> list[str]:
    return [name for names in groups.values() for name in names]


CORPUS = sorted(path.stem for path in INVALID.glob("*.yaml"))
VALID_FILES = sorted(p for d in [*VALID_DIRS, SHIPPED] for p in d.rglob("*.yaml"))


@cache
def independent_verdicts() -> dict[str, bool]:
    """check-jsonschema's verdict on every file (True: valid), from one run."""
    files = [INVALID / f"{name}.yaml" for name in CORPUS if name not in NOT_RUN]
    files += [path for path in VALID_FILES if check_file(str(path)).ok()]
    command = [sys.executable, "-m", "check_jsonschema", "--schemafile", str(schema_path())]
    run = subprocess.run(
        [*command, "-o", "json", *map(str, files)], capture_output=True, text=True, timeout=240
    )
    assert run.stdout.startswith("{"), run.stderr[-3000:]
    report = json.loads(run.stdout)
    refused = {e["filename"] for e in report["errors"] + report["parse_errors"]}
    return {str(path): str(path) not in refused for path in files}


def stage(name: str) -> str:
    """Where the engine refuses the file: while reading YAML, at the schema, or after."""
    try:
        source = load_source(str(INVALID / f"{name}.yaml"))
    except InvalidPlaybook:
        return "yaml"
    return "schema" if schema_findings(source) else "semantic"


def test_every_broken_file_is_classified_once() -> None:
    listed = _names(SEMANTIC) + _names(STRICTER_YAML) + list(NOT_RUN)
    assert len(listed) == len(set(listed))
    assert set(listed) <= set(CORPUS), set(listed) - set(CORPUS)


@pytest.mark.parametrize("name", CORPUS)
def test_a_broken_file_gets_the_verdict_its_class_says(name: str) -> None:
    assert not check_file(str(INVALID / f"{name}.yaml")).ok()
    if name in NOT_RUN:
        assert stage(name) == "yaml"
        return
    accepted = independent_verdicts()[str(INVALID / f"{name}.yaml")]
    if name in _names(SEMANTIC):
        assert (stage(name), accepted) == ("semantic", True)
    elif name in _names(STRICTER_YAML):
        assert (stage(name), accepted) == ("yaml", True)
    else:
        assert not accepted, f"{name}: check-jsonschema accepts it; classify it, or fix the schema"


def test_every_file_runbook_validate_accepts_the_independent_validator_accepts() -> None:
    verdicts = independent_verdicts()
    accepted_here = [str(p) for p in VALID_FILES if check_file(str(p)).ok()]
    assert len(accepted_here) >= 50
    assert [f for f in accepted_here if not verdicts[f]] == []
