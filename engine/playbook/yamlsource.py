"""Safe YAML with a position for every node.

We compose the YAML ourselves instead of calling `yaml.load` so that we can keep
`line:col` for every key and value, refuse duplicate keys, refuse any tag that is
not plain data, and bound alias expansion ("billion laughs") by counting nodes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import yaml

from engine.errors import Finding, InvalidPlaybook, Location

MAX_FILE_BYTES = 1024 * 1024
MAX_NODES = 200_000

Path = tuple[str | int, ...]

try:  # libyaml is ~10x faster; the pure-Python loader gives the same nodes
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on the PyYAML build
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

_SCALAR_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:timestamp",
}
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_constructor = yaml.constructor.SafeConstructor()


@dataclass
class Source:
    """Parsed YAML data plus where each value and key came from."""

    file: str
    data: Any
    values: dict[Path, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path, tuple[int, int]] = field(default_factory=dict)
    text: str = ""

    def at(self, path: Path, key: bool = False) -> Location:
        """The closest known location of `path` (walking up to its parents)."""
        table = self.keys if key else self.values
        probe = path
        while probe:
            if probe in table:
                line, col = table[probe]
                return Location(self.file, line, col)
            if key:
                table = self.values
                key = False
                continue
            probe = probe[:-1]
        return Location(self.file, 1, 1)


def load_source(file: str, text: str | None = None) -> Source:
    """Read and compose one YAML document; raise InvalidPlaybook with positions."""
    if text is None:
        text = read_bounded(file)
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        raise InvalidPlaybook(findings=[_syntax_finding(file, exc)]) from None
    except yaml.YAMLError as exc:
        finding = Finding(Location(file, 1, 1), "", f"not valid YAML: {exc}")
        raise InvalidPlaybook(findings=[finding]) from None
    if node is None:
        finding = Finding(
            Location(file, 1, 1), "", "the file is empty", "start with apiVersion: runbook/v1"
        )
        raise InvalidPlaybook(findings=[finding])
    builder = _Builder(file)
    data = builder.build(node, ())
    if builder.findings:
        raise InvalidPlaybook(findings=builder.findings)
    return Source(file, data, builder.values, builder.keys, text)


def read_bounded(file: str) -> str:
    location = Location(file, 1, 1)
    try:
        size = os.stat(file).st_size
        if size > MAX_FILE_BYTES:
            limit = MAX_FILE_BYTES // 1024
            message = f"file is {size // 1024} KiB, larger than the {limit} KiB limit"
            raise InvalidPlaybook(findings=[Finding(location, "", message, "split the playbook")])
        with open(file, encoding="utf-8") as handle:
            return handle.read()
    except UnicodeDecodeError as exc:
        finding = Finding(location, "", f"not UTF-8 text ({exc.reason})", "save the file as UTF-8")
        raise InvalidPlaybook(findings=[finding]) from None
    except OSError as exc:
        finding = Finding(location, "", f"cannot read: {exc.strerror}")
        raise InvalidPlaybook(findings=[finding]) from None


def _syntax_finding(file: str, exc: yaml.MarkedYAMLError) -> Finding:
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    problem = exc.problem or exc.context or "syntax error"
    hint = "check indentation and quoting near this position"
    if "\t" in problem or "tab" in problem:
        hint = "indent with spaces, not tabs"
    return Finding(Location(file, line, col), "", f"YAML syntax error: {problem}", hint)


class _Builder:
    """Turns composed nodes into plain data, recording positions and problems."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.values: dict[Path, tuple[int, int]] = {}
        self.keys: dict[Path, tuple[int, int]] = {}
        self.findings: list[Finding] = []
        self.count = 0

    def build(self, node: yaml.Node, path: Path) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            if self.count == MAX_NODES + 1:
                self._problem(
                    node, "expands to too many nodes (alias bomb?)", "remove nested aliases"
                )
            return None
        self.values.setdefault(path, _pos(node))
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            self._check_tag(node, _SEQ_TAG)
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        return self._scalar(node)

    def _mapping(self, node: yaml.MappingNode, path: Path) -> dict[str, Any]:
        self._check_tag(node, _MAP_TAG)
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = self._scalar(key_node) if isinstance(key_node, yaml.ScalarNode) else None
            if key == "<<" and key_node.tag == "tag:yaml.org,2002:merge":
                self._problem(key_node, "merge keys (<<) are not supported", "write the keys out")
                continue
            if not isinstance(key, str):
                self._problem(key_node, f"key {key!r} is not a string", "quote the key")
                key = str(key)
            if key in result:
                self._problem(key_node, f"duplicate key {key!r}", "remove one of the two")
                continue
            self.keys[(*path, key)] = _pos(key_node)
            result[key] = self.build(value_node, (*path, key))
        return result

    def _scalar(self, node: yaml.Node) -> Any:
        if node.tag not in _SCALAR_TAGS:
            self._check_tag(node, "")
            return node.value if isinstance(node.value, str) else None
        value = _constructor.construct_object(node)
        if node.tag == "tag:yaml.org,2002:timestamp":
            return node.value  # dates stay text: nothing in the format is a date
        return value

    def _check_tag(self, node: yaml.Node, allowed: str) -> None:
        if node.tag != allowed:
            hint = "only plain YAML data is allowed; remove the tag"
            tag = node.tag.replace("tag:yaml.org,2002:", "!!")
            self._problem(node, f"tag {tag!r} is not allowed", hint)

    def _problem(self, node: yaml.Node, message: str, hint: str) -> None:
        line, col = _pos(node)
        self.findings.append(Finding(Location(self.file, line, col), "", message, hint))


def _pos(node: yaml.Node) -> tuple[int, int]:
    mark = node.start_mark
    return (mark.line + 1, mark.column + 1)
