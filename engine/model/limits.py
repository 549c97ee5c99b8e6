"""Bounds on what the YAML loader accepts, checked before the work they bound.

A playbook is a few KiB of shallow data. Anything far larger is refused quickly:
oversized files by size before they are read, deeply nested flow collections before
libyaml parses them (its parser slows down quadratically with `[[[[…` depth), and
alias bombs ("billion laughs") and recursive aliases by sizing the composed node
graph once, with every shared node counted at its expanded size.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import yaml

from engine.core.errors import InvalidPlaybook
from engine.core.findings import Finding, Location
from engine.model.textfile import MAX_FILE_BYTES, check_size, text_size

__all__ = [
    "DEPTH_HINT", "MAX_DEPTH", "MAX_FILE_BYTES", "MAX_INT_BITS", "MAX_NODES",
    "check_depth_at_error", "check_flow_depth", "check_graph", "check_size", "text_size",
]  # fmt: skip

MAX_NODES = 200_000
MAX_DEPTH = 64
# About 4,000 decimal digits: Python converts at most 4,300 between text and int, and no
# field of a playbook needs anything near it.
MAX_INT_BITS = 13_300

DEPTH_HINT = "a playbook is shallow data; flatten the structure"


def check_flow_depth(file: str, text: str, loader: type[yaml.CSafeLoader]) -> None:
    """Refuse `[`/`{` nested deeper than MAX_DEPTH, from the scanner's tokens.

    The scan stops at the first token past the limit, before the slow parser runs.
    A text the scanner rejects is left for the parser to report.
    """
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return
    message = f"brackets nested more than {MAX_DEPTH} levels deep"
    try:
        _scan_depth(file, text, loader, _FLOW_DEPTH, message)
    except yaml.MarkedYAMLError as exc:
        _rescan_before(exc, file, text, loader, _FLOW_DEPTH, message)
    except yaml.YAMLError:
        return


def check_depth_at_error(
    file: str, text: str, loader: type[yaml.CSafeLoader], exc: yaml.MarkedYAMLError
) -> None:
    """Where libyaml gave up on nesting (its own limit is 1000 levels since PyYAML
    6.0.4), refuse at our limit instead: the first block or flow collection nested
    deeper than MAX_DEPTH, found by scanning the text before libyaml's error."""
    message = f"data nested more than {MAX_DEPTH} levels deep"
    _rescan_before(exc, file, text, loader, _ANY_DEPTH, message)


def _rescan_before(
    exc: yaml.MarkedYAMLError,
    file: str,
    text: str,
    loader: type[yaml.CSafeLoader],
    changes: dict[type[yaml.Token], int],
    message: str,
) -> None:
    mark = exc.problem_mark
    if mark is None or "nesting depth" not in str(exc.problem):
        return
    try:  # the text up to the error stays within libyaml's limit
        _scan_depth(file, text[: mark.index], loader, changes, message)
    except yaml.YAMLError:
        return


def _scan_depth(
    file: str,
    text: str,
    loader: type[yaml.CSafeLoader],
    changes: dict[type[yaml.Token], int],
    message: str,
) -> None:
    depth = 0
    for token in yaml.scan(text, Loader=loader):
        depth += changes.get(type(token), 0)
        if depth > MAX_DEPTH:
            mark = token.start_mark
            where = Location(file, mark.line + 1, mark.column + 1)
            raise InvalidPlaybook(findings=[Finding(where, "", message, DEPTH_HINT)])


_FLOW_DEPTH: dict[type[yaml.Token], int] = {
    yaml.FlowSequenceStartToken: 1,
    yaml.FlowMappingStartToken: 1,
    yaml.FlowSequenceEndToken: -1,
    yaml.FlowMappingEndToken: -1,
}
_ANY_DEPTH: dict[type[yaml.Token], int] = {
    **_FLOW_DEPTH,
    yaml.BlockMappingStartToken: 1,
    yaml.BlockSequenceStartToken: 1,
    yaml.BlockEndToken: -1,
}


class _TooBig(Exception):
    def __init__(self, node: yaml.Node, message: str, hint: str) -> None:
        super().__init__(message)
        self.node, self.message, self.hint = node, message, hint


def check_graph(file: str, root: yaml.Node) -> None:
    """Refuse alias bombs, recursive aliases and deep nesting in a composed document."""
    try:
        _expanded_size(root, 0, {})
    except _TooBig as exc:
        mark = exc.node.start_mark
        where = Location(file, mark.line + 1, mark.column + 1)
        raise InvalidPlaybook(findings=[Finding(where, "", exc.message, exc.hint)]) from None


def _expanded_size(node: yaml.Node, depth: int, sizes: dict[int, int]) -> int:
    """Nodes `node` stands for once aliases are expanded; sizes memoised by identity."""
    known = sizes.get(id(node))
    if known is not None:
        if known < 0:
            raise _TooBig(node, "an alias refers to a collection that contains it", _ALIAS_HINT)
        return known
    if depth > MAX_DEPTH:
        raise _TooBig(node, f"data nested more than {MAX_DEPTH} levels deep", DEPTH_HINT)
    sizes[id(node)] = -1  # in progress: meeting it again means a cycle
    total = 1 + sum(_expanded_size(child, depth + 1, sizes) for child in _children(node))
    if total > MAX_NODES:
        message = f"aliases expand this to more than {MAX_NODES:,} values (an alias bomb?)"
        raise _TooBig(node, message, _ALIAS_HINT)
    sizes[id(node)] = total
    return total


_ALIAS_HINT = "write the data out instead of nesting aliases (*name)"


def _children(node: yaml.Node) -> Iterator[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return itertools.chain.from_iterable(node.value)
    if isinstance(node, yaml.SequenceNode):
        return iter(node.value)
    return iter(())
