"""Safe YAML with a position for every node.

We compose the YAML ourselves instead of calling `yaml.load` so that we can keep
`line:col` for every key and value, refuse duplicate keys, refuse any tag that is
not plain data, refuse a plain scalar YAML 1.1 and 1.2 read differently (`yes`,
`0755`: `yamlcore`), a number that is not finite (`.nan`, `.inf`) and an integer beyond
what JSON tools read exactly (±(2^53 - 1)), and bound size,
nesting and alias expansion (`limits`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from functools import cache, lru_cache
from math import isfinite
from typing import Any, TypeVar

import yaml

from engine.core.errors import InvalidPlaybook
from engine.core.findings import Finding, Location
from engine.model import limits
from engine.model.textfile import read_bounded
from engine.model.yamlcore import AMBIGUOUS_TAG, ambiguity_message, resolve_plain
from engine.model.yamlerrors import reader_finding, syntax_finding

MAX_FILE_BYTES = limits.MAX_FILE_BYTES

Path = tuple[str | int, ...]
_Parsed = TypeVar("_Parsed")

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
_MERGE_TAG = "tag:yaml.org,2002:merge"


class Source:
    """Parsed YAML data plus where each value and key came from.

    Positions are read from the composed node tree when a finding asks for one
    (`at`), not recorded for every node up front: most values never need one.
    """

    def __init__(self, file: str, data: Any, root: yaml.Node | None = None, text: str = "") -> None:
        self.file = file
        self.data = data
        self.root = root
        self.text = text

    def at(self, path: Path, key: bool = False) -> Location:
        """The closest known location of `path` (walking up to its parents)."""
        node = self.root
        if node is None:
            return Location(self.file, 1, 1)
        last = len(path) - 1
        for depth, part in enumerate(path):
            pair = self._child(node, part)
            if pair is None:
                break
            if key and depth == last and pair[0] is not None:
                return Location(self.file, *_pos(pair[0]))
            node = pair[1]
        return Location(self.file, *_pos(node))

    @staticmethod
    def _child(node: yaml.Node, part: str | int) -> tuple[yaml.Node | None, yaml.Node] | None:
        """(key node, value node) of `part` in a collection node, None when absent."""
        if isinstance(node, yaml.SequenceNode):
            if isinstance(part, int) and 0 <= part < len(node.value):
                return None, node.value[part]
            return None
        if not isinstance(node, yaml.MappingNode) or not isinstance(part, str):
            return None
        for key_node, value_node in node.value:  # a few keys: a scan beats an index
            if key_node.value == part and isinstance(key_node, yaml.ScalarNode):
                return key_node, value_node
        return None


def dotted(path: tuple[str | int, ...] | list[str | int]) -> str:
    """`steps[2].timeout` style path for messages."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def type_name(value: Any) -> str:
    """`a list`, `a mapping`… for messages."""
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}
    names.update({list: "a list", dict: "a mapping", type(None): "null"})
    return names.get(type(value), type(value).__name__)


def load_source(file: str, text: str | None = None) -> Source:
    """Read and compose one YAML document; raise InvalidPlaybook with positions."""
    if text is None:
        text = read_bounded(file)
    limits.check_size(file, limits.text_size(text))
    node = _compose(file, text)
    data = _data(file, node)
    if not isinstance(data, dict):
        message = f"the document is {type_name(data)}, not a mapping"
        hint = "a playbook is a mapping that starts with apiVersion: runbook/v1"
        raise InvalidPlaybook(findings=[Finding(Location(file, *_pos(node)), "", message, hint)])
    return Source(file, data, node, text)


def _checked(file: str, node: yaml.Node) -> Any:
    """The data of a document that is not plain: every limit and rule checked, in order."""
    limits.check_graph(file, node)
    builder = _Builder(file)
    data = builder.build(node, ())
    if builder.findings:
        raise InvalidPlaybook(findings=builder.findings)
    return data


def _compose(file: str, text: str) -> yaml.Node:
    node = _parsed(file, text, yaml.compose)
    if node is None:
        finding = Finding(
            Location(file, 1, 1), "", "the file is empty", "start with apiVersion: runbook/v1"
        )
        raise InvalidPlaybook(findings=[finding])
    return node


def load_documents(file: str, text: str) -> list[Any]:
    """The data of every document of a YAML stream (a manifest, a patch), read as a
    playbook is: the same limits, tags, keys and scalars refused, at `file:line:col`."""
    limits.check_size(file, limits.text_size(text))
    nodes = _parsed(file, text, lambda text, Loader: list(yaml.compose_all(text, Loader=Loader)))
    return [_data(file, node) for node in nodes]


def _data(file: str, node: yaml.Node) -> Any:
    try:
        return _plain(node)
    except _NotPlain:
        return _checked(file, node)


def _parsed(file: str, text: str, compose: Callable[..., _Parsed]) -> _Parsed:
    """`compose(text, Loader=…)`; every way the text is not YAML as a located finding."""
    limits.check_flow_depth(file, text, _Loader)
    try:
        return compose(text, Loader=_loader(_Loader))
    except yaml.MarkedYAMLError as exc:
        limits.check_depth_at_error(file, text, _Loader, exc)
        raise InvalidPlaybook(findings=[syntax_finding(file, text, exc)]) from None
    except yaml.reader.ReaderError as exc:
        raise InvalidPlaybook(findings=[reader_finding(file, text, exc)]) from None
    except RecursionError:  # the pure-Python parser recurses per nesting level
        message = "data nested too deeply for the YAML parser"
        finding = Finding(Location(file, 1, 1), "", message, limits.DEPTH_HINT)
        raise InvalidPlaybook(findings=[finding]) from None
    except yaml.YAMLError as exc:
        finding = Finding(
            Location(file, 1, 1), "", f"not valid YAML: {exc}", "check the YAML syntax"
        )
        raise InvalidPlaybook(findings=[finding]) from None


@cache
def _loader(base: type[yaml.CSafeLoader]) -> type[yaml.CSafeLoader]:
    """`base`, resolving the tag of each distinct scalar text once, and refusing (as
    `AMBIGUOUS_TAG`) a plain scalar that YAML 1.1 and YAML 1.2 read differently.

    The resolver tries regular expressions on every scalar, and a playbook repeats the
    same keys and values (`id`, `run`, `true`…) over and over. Without path resolvers
    (none are registered for the safe loaders) the tag depends only on the node kind,
    the text and its style, so it is memoised for short texts.
    """
    if base.yaml_path_resolvers:
        return base
    resolver = base("")  # its resolve() reads only the class's tables
    pyyaml = functools.partial(base.resolve, resolver)

    def uncached(kind: type[yaml.Node], value: Any, implicit: Any) -> str:
        tag: str = pyyaml(kind, value, implicit)
        if kind is yaml.ScalarNode and implicit[0]:  # plain: YAML 1.1 and 1.2 may differ
            return resolve_plain(value, tag)
        return tag

    cached = lru_cache(maxsize=8192)(uncached)

    def resolve(kind: type[yaml.Node], value: Any, implicit: Any) -> str:
        if kind is yaml.ScalarNode and len(value) > _MEMO_MAX_CHARS:
            return uncached(kind, value, implicit)
        return cached(kind, value, implicit)  # type: ignore[arg-type]

    name = f"Memo{base.__name__}"
    return type(name, (base,), {"resolve": staticmethod(resolve)})


# Longer texts (scripts, descriptions) are rarely repeated, and are not kept.
_MEMO_MAX_CHARS = 200


class _NotPlain(Exception):
    """The document needs the full, checked build (aliases, tags, odd keys, limits…)."""


_STR_TAG = "tag:yaml.org,2002:str"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_CONSTRUCTOR = yaml.constructor.SafeConstructor()
_CONSTRUCTORS = {
    tag: _CONSTRUCTOR.yaml_constructors[tag] for tag in _SCALAR_TAGS - {_STR_TAG, _TIMESTAMP_TAG}
}


def _plain(root: yaml.Node) -> Any:
    """The data of a plain document, or _NotPlain: the common case, built fast.

    Plain: no alias to a collection, only plain-data tags (no scalar YAML 1.1 and 1.2
    read differently), finite numbers, integers within ±(2^53 - 1), string keys (no
    merge keys), no duplicate key, at most MAX_DEPTH levels and MAX_NODES values. Those are
    exactly the documents for which `limits.check_graph` and `_Builder` find nothing,
    and for them the data is the same as `_Builder` builds; anything else is built
    by `_checked`, which says precisely what is wrong and where.
    """
    seen: set[int] = set()
    count = 1
    scalar_node, mapping_node, sequence_node = yaml.ScalarNode, yaml.MappingNode, yaml.SequenceNode
    str_tag, timestamp_tag, constructors = _STR_TAG, _TIMESTAMP_TAG, _CONSTRUCTORS
    max_depth, max_int_bits = limits.MAX_DEPTH, limits.MAX_INT_BITS

    def build(node: yaml.Node, depth: int) -> Any:
        nonlocal count
        kind = node.__class__
        if kind is scalar_node:
            tag = node.tag
            if tag in (str_tag, timestamp_tag):  # dates stay text, as in _Builder
                return node.value
            construct = constructors.get(tag)
            if construct is None:
                raise _NotPlain
            try:
                value = construct(_CONSTRUCTOR, node)
            except Exception:  # e.g. `!!int abc`: as the checked build does
                raise _NotPlain from None
            if value.__class__ is float and not isfinite(value):
                raise _NotPlain
            if value.__class__ is int and not -MAX_INTEGER <= value <= MAX_INTEGER:
                raise _NotPlain
            if value.__class__ is int and value.bit_length() > max_int_bits:
                raise _NotPlain  # the checked build says why
            return value
        children = node.value
        if (depth >= max_depth and children) or id(node) in seen:
            raise _NotPlain
        seen.add(id(node))
        if kind is mapping_node and node.tag == _MAP_TAG:
            count += 2 * len(children)
            if count > limits.MAX_NODES:
                raise _NotPlain
            result: dict[str, Any] = {}
            for key_node, value_node in children:
                if key_node.__class__ is not scalar_node:
                    raise _NotPlain
                if key_node.tag not in (str_tag, timestamp_tag):
                    raise _NotPlain
                key = key_node.value
                if key in result:
                    raise _NotPlain
                result[key] = build(value_node, depth + 1)
            return result
        if kind is sequence_node and node.tag == _SEQ_TAG:
            count += len(children)
            if count > limits.MAX_NODES:
                raise _NotPlain
            return [build(item, depth + 1) for item in children]
        raise _NotPlain

    return build(root, 0)


# The largest integer every JSON tool (JavaScript's numbers: ajv, editors) reads exactly.
MAX_INTEGER = 2**53 - 1
_INTEGER_HINT = "write a smaller number, or quote it if it is text"
_FINITE_HINT = "write a finite number: with NaN or infinity every comparison is meaningless"


class _Builder:
    """Turns composed nodes into plain data, recording positions and problems."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.keys: dict[Path, tuple[int, int]] = {}
        self.findings: list[Finding] = []
        self.too_deep = False
        # One per document: SafeConstructor remembers every node it constructed.
        self.constructor = yaml.constructor.SafeConstructor()

    def build(self, node: yaml.Node, path: Path) -> Any:
        if len(path) > limits.MAX_DEPTH:  # aliases can stack nesting past the graph check
            if not self.too_deep:
                message = f"data nested more than {limits.MAX_DEPTH} levels deep"
                self._problem(node, path, message, limits.DEPTH_HINT)
            self.too_deep = True
            return None
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            self._check_tag(node, path, _SEQ_TAG)
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        return self._scalar(node, path)

    def _mapping(self, node: yaml.MappingNode, path: Path) -> dict[str, Any]:
        self._check_tag(node, path, _MAP_TAG)
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = self._key(key_node, path)
            if key is None:
                continue
            if key in result:
                first = self.keys[(*path, key)][0]
                message = f"duplicate key {key!r} (first at line {first})"
                hint = "remove one of the two: YAML would silently keep only the last"
                self._problem(key_node, (*path, key), message, hint)
                continue
            self.keys[(*path, key)] = _pos(key_node)
            result[key] = self.build(value_node, (*path, key))
        return result

    def _key(self, node: yaml.Node, path: Path) -> str | None:
        if node.tag == _MERGE_TAG:
            self._problem(node, path, "merge keys (<<) are not supported", "write the keys out")
            return None
        scalar = isinstance(node, yaml.ScalarNode)
        key = self._scalar(node, (*path, str(node.value))) if scalar else None
        if not isinstance(key, str):
            self._problem(
                node, path, f"key {_key_text(key, node)} is not a string", "quote the key"
            )
            return None
        return key

    def _scalar(self, node: yaml.Node, path: Path) -> Any:
        if node.tag == AMBIGUOUS_TAG:
            self._problem(node, path, *ambiguity_message(node.value))
            return node.value
        if node.tag not in _SCALAR_TAGS:
            self._check_tag(node, path, "")
            return node.value if isinstance(node.value, str) else None
        if node.tag == "tag:yaml.org,2002:timestamp":
            return node.value  # dates stay text: nothing in the format is a date
        try:
            value = self.constructor.construct_object(node)
        except (ValueError, LookupError, TypeError, ArithmeticError):  # `!!int abc`, `!!bool x`
            value = _UNREADABLE
        if value is _UNREADABLE or _too_long(value):
            self._problem(node, path, *_unreadable_scalar(node))
            return None
        if isinstance(value, float) and not isfinite(value):
            message = f"{node.value!r} is not a finite number"
            self._problem(node, path, message, _FINITE_HINT)
        elif isinstance(value, int) and not -MAX_INTEGER <= value <= MAX_INTEGER:
            message = f"{_shown(node.value)} is beyond ±(2^53 - 1), where JSON tools lose digits"
            self._problem(node, path, message, _INTEGER_HINT)
        return value

    def _check_tag(self, node: yaml.Node, path: Path, allowed: str) -> None:
        if node.tag != allowed:
            tag = node.tag.replace("tag:yaml.org,2002:", "!!")
            hint = "only plain YAML data is allowed; remove the tag"
            self._problem(node, path, f"tag {tag!r} is not allowed", hint)

    def _problem(self, node: yaml.Node, path: Path, message: str, hint: str) -> None:
        location = Location(self.file, *_pos(node))
        self.findings.append(Finding(location, dotted(path), message, hint))


_UNREADABLE = object()


def _too_long(value: Any) -> bool:
    return type(value) is int and value.bit_length() > limits.MAX_INT_BITS


_DIGITS = re.compile(r"[-+]?(0[xob])?[0-9a-fA-F_]+")


def _unreadable_scalar(node: yaml.Node) -> tuple[str, str]:
    """(message, hint) for a scalar its tag cannot read, or an integer far too long."""
    text = str(node.value)
    if len(text) > 4000 and _DIGITS.fullmatch(text):
        message = f"an integer of {len(text):,} characters is too large to be a number here"
        return message, "quote it if it is text; numbers in a playbook have at most 4,000 digits"
    shown = text if len(text) <= 40 else text[:40] + "…"
    tag = node.tag.replace("tag:yaml.org,2002:", "!!")
    kind = _TAG_NAMES.get(tag, tag)
    return f"{shown!r} is not {kind}", f"remove the {tag} tag, or write {kind}"


_TAG_NAMES = {"!!int": "an integer", "!!float": "a number", "!!bool": "a boolean"}


def _shown(text: str) -> str:
    return repr(text) if len(text) <= 40 else repr(text[:37] + "...")


def _key_text(key: Any, node: yaml.Node) -> str:
    if isinstance(node, yaml.ScalarNode):
        return repr(key)
    return "[…]" if isinstance(node, yaml.SequenceNode) else "{…}"


def _pos(node: yaml.Node) -> tuple[int, int]:
    mark = node.start_mark
    return (mark.line + 1, mark.column + 1)
