"""The fast paths of `runbook validate` say exactly what the full checks say.

- The compiled schema check (fastjsonschema) may only ever accept what `jsonschema`
  accepts: on every playbook we have, and on hundreds of mutants of them.
- The plain YAML build gives the same data as the checked build, and positions read
  lazily from the node tree are those of the keys and values.
- Worker processes give the same reports, in the same order, as one process.
"""

from __future__ import annotations

import copy
import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from tree import REPO

from engine.core.errors import InvalidPlaybook
from engine.model import yamlsource
from engine.modes.validate import render_text, validate
from engine.playbook import fastschema
from engine.playbook.loader import check_file
from engine.playbook.schema import fast_valid, validator
from engine.playbook.schema_file import schema_path

CORPUS_DIRS = (REPO / "tests" / "playbooks", REPO / "playbooks")
FILES = sorted(p for d in CORPUS_DIRS for p in d.rglob("*") if p.suffix in (".yaml", ".yml"))


def _sources() -> list[yamlsource.Source]:
    sources = []
    for path in FILES:
        try:
            sources.append(yamlsource.load_source(str(path)))
        except InvalidPlaybook:
            continue  # not YAML data: never reaches the schema
    return sources


SOURCES = _sources()


def full_valid(data: Any) -> bool:
    return next(iter(validator().iter_errors(data)), None) is None


def test_the_shipped_schema_is_checked_by_the_fast_path() -> None:
    """A schema edit that uses a keyword the fast path cannot check exactly would
    silently make every `runbook validate` slow: extend `fastschema` instead."""
    schema = json.loads(schema_path().read_text(encoding="utf-8"))
    assert fastschema.unsupported(schema) == []
    assert fastschema.compiled() is not None


@pytest.mark.parametrize(
    ("schema", "where"),
    [
        ({"dependentRequired": {"a": ["b"]}}, ["/dependentRequired"]),
        (
            {"properties": {"a": {"unevaluatedProperties": False}}},
            ["/properties/a/unevaluatedProperties"],
        ),
        ({"prefixItems": [{"type": "string"}]}, ["/prefixItems"]),
        ({"$defs": {"x": {"type": "string"}}, "$ref": "#/$defs/x", "minLength": 2}, ["/$ref"]),
        ({"$ref": "https://example.com/other.json"}, ["/$ref"]),
        ({"items": {"$id": "nested", "type": "string"}}, ["/items/$id"]),
        ({"oneOf": [{"$ref": "#/$defs/x", "description": "fine"}], "$defs": {"x": True}}, []),
    ],
)
def test_keywords_the_fast_path_cannot_check_exactly_are_found(
    schema: dict[str, Any], where: list[str]
) -> None:
    assert fastschema.unsupported(schema) == where


@pytest.mark.parametrize("source", SOURCES, ids=lambda s: str(Path(s.file).relative_to(REPO)))
def test_fast_and_full_schema_checks_agree_on_every_playbook(source: yamlsource.Source) -> None:
    """Every file of the corpus that is YAML data (the others never reach the schema)."""
    assert fast_valid(source.data) == full_valid(source.data)


_VALUES: list[Any] = [
    0, 1, -1, 1.0, 2.5, 99999, True, False, None, "", "x", "x\n", "5s", "5", "1.5m",
    "yes", "Shell", "a" * 70, "-rf", [], ["a"], [1], ["a", "a"], [200, 200], {},
    {"a": 1}, {"run": "true"}, {"shell": "true"}, {"env": "X", "file": "/x"},
]  # fmt: skip
_KEYS = [
    "shell", "ssh", "kubectl", "http", "wait", "manual", "undo", "id", "run", "timeout",
    "retry", "capture", "expect", "env", "bogus", "between", "above", "type", "default",
]  # fmt: skip


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*path, index))
    return found


def _mutant(data: Any, rng: random.Random) -> Any:
    data = copy.deepcopy(data)
    path = rng.choice(_paths(data)[1:])
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    choice = rng.random()
    if choice < 0.5:
        parent[last] = copy.deepcopy(rng.choice(_VALUES))
    elif choice < 0.65 and isinstance(parent, dict):
        del parent[last]
    elif choice < 0.85 and isinstance(parent[last], dict):
        parent[last][rng.choice(_KEYS)] = copy.deepcopy(rng.choice(_VALUES))
    elif isinstance(parent[last], list) and parent[last]:
        parent[last].append(copy.deepcopy(parent[last][0]))
    else:
        parent[last] = copy.deepcopy(rng.choice(_VALUES))
    return data


def test_the_fast_schema_check_never_accepts_what_jsonschema_refuses() -> None:
    rng = random.Random(20240601)
    valid = [s.data for s in SOURCES if full_valid(s.data)]
    assert len(valid) >= 20
    outcomes = {True: 0, False: 0}
    for _ in range(600):
        mutant = _mutant(rng.choice(valid), rng)
        fast = fast_valid(mutant)
        if fast:
            assert full_valid(mutant), json.dumps(mutant, indent=1)[:3000]
        outcomes[fast] += 1
    assert outcomes[True] > 50 and outcomes[False] > 50, outcomes


def test_the_compiled_check_is_cached_and_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    code = (
        "from engine.playbook import fastschema\n"
        "print(fastschema.compiled() is not None, fastschema.cache_dir())\n"
    )
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}

    def run() -> str:
        return subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        ).stdout

    assert run() == f"True {tmp_path / 'cache' / 'runbook-engine'}\n"
    (entry,) = (tmp_path / "cache" / "runbook-engine").iterdir()
    assert entry.stat().st_mode & 0o077 == 0
    written = entry.stat().st_mtime_ns
    assert run().startswith("True ")
    assert entry.stat().st_mtime_ns == written  # read, not generated again

    entry.write_bytes(b"damaged")
    assert run().startswith("True ")  # generated anew
    assert entry.read_bytes() != b"damaged"


def test_an_unusable_cache_directory_only_costs_the_generation(tmp_path: Path) -> None:
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("")
    code = (
        "from engine.playbook import fastschema\n"
        "from engine.playbook.loader import check_file\n"
        "import sys\n"
        "print(fastschema.cache_dir(), fastschema.compiled() is not None,"
        " check_file(sys.argv[1]).ok())\n"
    )
    demo = str(REPO / "playbooks" / "demo" / "disk-cleanup-demo.yaml")
    env = {**os.environ, "XDG_CACHE_HOME": str(blocked)}
    run = subprocess.run(
        [sys.executable, "-c", code, demo], env=env, capture_output=True, text=True, check=True
    )
    assert run.stdout == "None True True\n"


def test_a_cache_others_can_write_to_is_not_used(tmp_path: Path) -> None:
    shared = tmp_path / "runbook-engine"
    shared.mkdir()
    shared.chmod(0o777)
    code = "from engine.playbook import fastschema; print(fastschema.cache_dir())"
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    run = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert run.stdout == "None\n"


def test_the_plain_build_gives_the_data_of_the_checked_build() -> None:
    built = 0
    for path in FILES:
        text = path.read_text(encoding="utf-8", errors="replace")
        try:
            node = yaml.compose(text, Loader=yamlsource._loader(yamlsource._Loader))
        except yaml.YAMLError:
            continue
        if node is None:
            continue
        try:
            plain = yamlsource._plain(node)
        except yamlsource._NotPlain:
            continue
        builder = yamlsource._Builder(str(path))
        assert plain == builder.build(node, ())
        assert builder.findings == []
        built += 1
    assert built > 100


ANCHORED = """\
apiVersion: runbook/v1
kind: Playbook
metadata: {name: anchored, version: 1.0.0, maturity: 1, owner: me}
steps:
  - id: first
    readonly: true
    retry: &retry
      attempts: 3
      backof: 1s
    shell: {run: "true"}
  - id: second
    readonly: true
    retry: *retry
    shell: {run: "true"}
"""


def test_a_document_with_aliases_is_checked_and_located_like_before() -> None:
    """Aliases take the checked build; a finding inside an aliased mapping is reported
    where the anchored mapping is written, for both users of it."""
    report = check_file("anchored.yaml", text=ANCHORED)
    assert [(f.location.line, f.location.col, f.path, f.message) for f in report.findings] == [
        (9, 7, "steps[0].retry.backof", "unknown key 'backof'"),
        (9, 7, "steps[1].retry.backof", "unknown key 'backof'"),
    ]


def test_positions_are_those_of_keys_and_values() -> None:
    source = yamlsource.load_source("anchored.yaml", text=ANCHORED.replace("backof", "backoff"))

    def at(*path: str | int, key: bool = False) -> tuple[int, int]:
        location = source.at(path, key=key)
        return location.line, location.col

    assert at("steps", 1, "id") == (11, 9)
    assert at("steps", 1, "id", key=True) == (11, 5)
    assert at("steps", 1, "retry") == (7, 12)  # the alias stands for the anchored node
    assert at("metadata", "name") == (3, 18)
    assert at("steps", 0, "shell", "nope", 3) == (10, 12)  # the closest parent that exists
    assert at("steps", 9) == (5, 3)
    assert at() == (1, 1)


def _recorded(
    node: yaml.Node, path: tuple[Any, ...], values: dict[Any, Any], keys: dict[Any, Any]
) -> None:
    """Every position, recorded up front (what the loader used to do)."""
    values.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            keys[(*path, key_node.value)] = (
                key_node.start_mark.line + 1,
                key_node.start_mark.column + 1,
            )
            _recorded(value_node, (*path, key_node.value), values, keys)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _recorded(item, (*path, index), values, keys)


def test_lazy_positions_are_the_recorded_ones_on_every_playbook() -> None:
    checked = 0
    for source in SOURCES:
        assert source.root is not None
        values: dict[Any, tuple[int, int]] = {}
        keys: dict[Any, tuple[int, int]] = {}
        _recorded(source.root, (), values, keys)
        for path, where in values.items():
            assert (source.at(path).line, source.at(path).col) == where
            missing = source.at((*path, "no such key", 7))
            assert (missing.line, missing.col) == where
            checked += 1
        for path, where in keys.items():
            assert (source.at(path, key=True).line, source.at(path, key=True).col) == where
    assert checked > 5000


def _mixed(tmp_path: Path) -> Path:
    """More files than the parallel threshold, valid and invalid ones interleaved."""
    folder = tmp_path / "mixed"
    sources = sorted((REPO / "tests" / "playbooks" / "invalid").glob("*.yaml"))
    sources += sorted((REPO / "playbooks").rglob("*.yaml"))
    for index, source in enumerate(sources):
        (folder / f"{index % 7}").mkdir(parents=True, exist_ok=True)
        (folder / f"{index % 7}" / f"{index:03d}-{source.name}").write_bytes(source.read_bytes())
    return folder


def test_workers_give_the_reports_of_one_process_in_the_same_order(tmp_path: Path) -> None:
    folder = _mixed(tmp_path)
    alone = validate([str(folder)], jobs=1)
    assert len(alone) > 64
    assert not all(r.ok() for r in alone) and any(r.ok() for r in alone)
    run = subprocess.run(
        [sys.executable, "-m", "engine", "validate", str(folder)],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert run.returncode == 1
    assert run.stdout == render_text(alone, strict=False) + "\n"
    together = validate([str(folder)], jobs=2)
    assert [(r.file, r.findings) for r in together] == [(r.file, r.findings) for r in alone]


def test_const_is_given_to_the_fast_check_as_a_one_value_enum() -> None:
    schema = {
        "properties": {"const": {"const": 1, "allOf": [{"type": "integer"}]}},
        "const": {"a": [True]},
    }
    assert fastschema._terse(schema) == {
        "properties": {"const": {"allOf": [{"type": "integer"}, {"enum": [1]}]}},
        "allOf": [{"enum": [{"a": [True]}]}],
    }
