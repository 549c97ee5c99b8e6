"""The engine's own regular expressions end where the text ends.

Python's `$` also matches before a final newline, so `^[a-z]+$` takes "web\\n": a
name, a duration or a version checked that way lets a newline through to a command,
a URL or a file name. Every pattern the engine compiles uses `\\Z` or `fullmatch`.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from engine.backends.kube.ops import NAME, NAMESPACE
from engine.backends.ssh.errors import InventoryError
from engine.backends.ssh.inventory import Inventory
from engine.core.durations import is_duration, parse_duration

ENGINE = Path(__file__).resolve().parent.parent / "engine"
_RE_CALLS = {"compile", "match", "search", "fullmatch", "sub", "split", "findall", "finditer"}
_UNESCAPED_DOLLAR = re.compile(r"(?<!\\)(?:\\\\)*\$")


def _patterns(file: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        owner = node.func.value
        if not (isinstance(owner, ast.Name) and owner.id == "re"):
            continue
        if node.func.attr in _RE_CALLS and node.args and isinstance(node.args[0], ast.Constant):
            value = node.args[0].value
            if isinstance(value, str):
                found.append((node.lineno, value))
    return found


PATTERNS = [
    (f"{file.relative_to(ENGINE.parent)}:{line}", pattern)
    for file in sorted(ENGINE.rglob("*.py"))
    for line, pattern in _patterns(file)
]


def test_the_scan_finds_the_engines_patterns() -> None:
    assert len(PATTERNS) >= 20


@pytest.mark.parametrize(("where", "pattern"), PATTERNS, ids=[w for w, _ in PATTERNS])
def test_no_pattern_ends_before_a_final_newline(where: str, pattern: str) -> None:
    assert not _UNESCAPED_DOLLAR.search(pattern), f"{where}: use \\Z (or fullmatch), not $"


@pytest.mark.parametrize("text", ["5s\n", " 5s", "5s ", "٥s"])
def test_a_duration_is_the_whole_text(text: str) -> None:
    assert not is_duration(text)
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(text)


@pytest.mark.parametrize("pattern", [NAME, NAMESPACE])
def test_kubernetes_names_take_no_final_newline(pattern: re.Pattern[str]) -> None:
    assert pattern.match("web-1")
    assert not pattern.match("web-1\n")


@pytest.mark.parametrize("target", ["ops@web1\n", "web1:22\n", "web1:٢٢"])
def test_an_ad_hoc_target_is_the_whole_text(target: str) -> None:
    with pytest.raises(InventoryError, match="is not"):
        Inventory().resolve(target)
