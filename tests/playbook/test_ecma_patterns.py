"""ECMA-262 patterns (engine.playbook.ecma): the schema's patterns are matched as JSON
Schema means them, and their Python translations for the compiled fast path match
exactly the same strings."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pattern_strategies import patterns
from sli_helpers import run_cli

from engine.playbook import ecma, fastschema
from engine.playbook.schema import fast_valid, validator
from engine.playbook.schema_file import schema_path


def _schema_patterns(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["pattern"]} if isinstance(node.get("pattern"), str) else set()
        return found.union(*(_schema_patterns(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(_schema_patterns(value) for value in node))
    return set()


SCHEMA_PATTERNS = sorted(_schema_patterns(json.loads(schema_path().read_text())))
MORE_PATTERNS = [
    r"^a.c$",
    r"^\s+$",
    r"^[^\d\s]+$",
    r"^\W\D\S$",
    r"^[\w.$-]+$",
    r"x(?=y)|(?!z)q",
    r"^(?:ab){2,3}$",
    r"^\u00e9\.\/\\$",
    r"\bz\B",
    r"(?<n>a)z",
    r"[]|y",
    r"^[^]$",
    r"^\u{1F600}|\uD83D\uDE00",
    r"^[\S\D]$",
    r"[\W][\b]",
    r"\cJ",
]
# Characters where the two dialects part: line ends, Unicode digits, letters and spaces.
TRICKY = "az09AZ_.-+$\\/ \t\n\r\x0b\x0c\x1c\x85\xa0\u2028\u2029\ufeff\u3000é١٣ßy\x08😀"


@pytest.mark.parametrize("pattern", SCHEMA_PATTERNS + MORE_PATTERNS)
@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=TRICKY, max_size=8))
def test_the_python_translation_matches_what_ecma_262_matches(pattern: str, text: str) -> None:
    assert bool(re.search(ecma.to_python(pattern), text)) == ecma.search(pattern, text)


@pytest.mark.parametrize(
    ("pattern", "text", "matches"),
    [
        ("^[a-z]+$", "tiny\n", False),
        ("^[a-z]+$", "tiny", True),
        (r"^\d$", "٣", False),
        (r"^\w$", "é", False),
        (r"^\s$", "\ufeff", True),
        (r"^\s$", "\x85", False),
        ("^.$", "\u2028", False),
    ],
)
def test_ecma_262_verdicts(pattern: str, text: str, matches: bool) -> None:
    assert ecma.search(pattern, text) is matches
    assert bool(re.search(ecma.to_python(pattern), text)) is matches


@pytest.mark.parametrize("pattern", [r"(a)\1", r"(?<n>a)\k<n>", r"\p{L}", r"\P{L}", "[a--z]"])
def test_patterns_outside_the_translated_subset_are_refused(pattern: str) -> None:
    with pytest.raises(ecma.PatternError):
        ecma.to_python(pattern)


def test_a_schema_pattern_without_a_translation_turns_the_fast_path_off() -> None:
    schema = {"properties": {"a": {"pattern": r"\p{L}x"}, "b": {"pattern": "^x$"}}}
    assert fastschema.unsupported(schema) == ["/properties/a/pattern"]


def test_python_only_syntax_is_not_ecma_262() -> None:
    for pattern in (r"(?P<n>a)", r"a\Z", r"(?i)a", "[a-z"):
        with pytest.raises(ecma.PatternError):
            ecma.compiled(pattern)


def test_full_match_refuses_what_only_wrapping_would_balance() -> None:
    with pytest.raises(ecma.PatternError):
        ecma.full_match("a)(b", "ab")
    assert ecma.full_match("a|b", "b")
    assert not ecma.full_match("a|b", "ab")


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("metadata", "name"), "tiny\n"),
        (("metadata", "version"), "1.0.0\n"),
        (("metadata", "version"), "1.٣.0"),
        (("steps", 0, "id"), "look\n"),
        (("steps", 0, "timeout"), "5s\n"),
        (("steps", 0, "timeout"), "٥s"),
    ],
)
def test_both_schema_checks_refuse_what_ecma_262_refuses(path: tuple[Any, ...], value: str) -> None:
    data: dict[str, Any] = {
        "apiVersion": "runbook/v1",
        "kind": "Playbook",
        "metadata": {"name": "tiny", "version": "1.0.0", "maturity": 1},
        "steps": [{"id": "look", "timeout": "5s", "shell": {"run": "true"}}],
    }
    assert fast_valid(data)
    parent: Any = data
    for part in path[:-1]:
        parent = parent[part]
    parent[path[-1]] = value
    assert not fast_valid(data)
    assert [error.validator for error in validator().iter_errors(data)] == ["pattern"]


# Pieces of ECMA-262 patterns where RE2's dialect and ECMA-262's part (line ends, `.`,
# Unicode digits, letters and spaces, word boundaries, surrogate pairs), combined into
# patterns by concatenation, alternation, groups and quantifiers.
ATOMS = [
    "a",
    "z",
    "é",
    ".",
    r"\d",
    r"\D",
    r"\w",
    r"\W",
    r"\s",
    r"\S",
    r"\b",
    r"\B",
    "^",
    "$",
    r"\n",
    r"\.",
    r"\u2028",
    r"\uD83D\uDE00",
    r"\u{1F600}",
    r"\x41",
    r"\cI",
    "[a-c]",
    r"[^a\d]",
    r"[\s.]",
    r"[\S\W]",
    r"[\b-]",
    "[]",
    "[^]",
]
QUANTIFIERS = ["", "", "*", "+", "?", "{2}", "{0,2}", "{1,}", "*?", "+?"]
# A group is not repeated: regress itself asks for 5 GB and aborts the process on
# `^(?:(?:([a-c]?){2}){1,2})$` and "a-\n".
GROUP_QUANTIFIERS = ["", "", "?", "??"]


def _ecma_patterns() -> st.SearchStrategy[str]:
    return patterns(ATOMS, QUANTIFIERS, ["(", "(?:", "(?<g>"], GROUP_QUANTIFIERS).filter(
        _valid_ecma
    )


def _valid_ecma(pattern: str) -> bool:
    try:
        ecma.compiled(pattern)
    except ecma.PatternError:
        return False
    return pattern.count("(?<g>") <= 1


TEXT_ALPHABET = "aczéAZ09_. \t\n\r\u2028\xa0\ufeff\x85١😀\x08-"


@settings(max_examples=3000, deadline=None)
@given(pattern=_ecma_patterns(), text=st.text(alphabet=TEXT_ALPHABET, max_size=6))
def test_re2_matches_a_whole_value_exactly_where_ecma_262_does(pattern: str, text: str) -> None:
    """The dialect of inputs' patterns did not change when they moved to RE2: on a
    generated corpus, RE2 and regress (ECMA-262) agree on every verdict."""
    whole = ecma.compiled(f"^(?:{pattern})$").find(text) is not None
    compiled = ecma.linear(pattern)
    assert compiled.search(text) is whole, compiled.translated


@pytest.mark.parametrize(
    ("pattern", "fragment"),
    [
        (r"^(a)\1$", "a backreference"),
        (r"^(?<n>a)\k<n>$", "a backreference"),
        (r"^a(?=b)", "a lookaround"),
        (r"^(?!a)b", "a negative lookaround"),
        (r"(?<=a)b", "a lookaround"),
        (r"\p{L}+", "a Unicode property escape"),
        ("a{1001}", "RE2 cannot run it"),
    ],
)
def test_patterns_re2_cannot_run_are_refused_with_their_fix(pattern: str, fragment: str) -> None:
    with pytest.raises(ecma.NotLinear) as refused:
        ecma.linear(pattern)
    assert fragment in str(refused.value)
    assert refused.value.hint


def test_a_redos_pattern_decides_a_hostile_value_at_once() -> None:
    """`^(\\w+\\s?)+$` against word characters and a `!`: a backtracking engine tries
    every way to split the word (regress: seconds at 28 characters, twice as long with
    each one more); RE2 takes microseconds, at any length."""
    for length in (28, 100_000):
        started = time.perf_counter()
        assert not ecma.full_match(r"^(\w+\s?)+$", "a" * length + "!")
        assert time.perf_counter() - started < 0.5, length


def test_a_pattern_too_long_for_the_ecma_262_engine_is_refused_not_a_crash(
    tmp_path: Path,
) -> None:
    # regress reads a long alternation on the stack: 100,000 alternatives overflow it
    # and kill the process (a validate, or a server that reloads its playbooks)
    pattern = "|".join(f"n{number}" for number in range(100_000))
    playbook = tmp_path / "long-pattern.yaml"
    playbook.write_text(LONG_PATTERN_PLAYBOOK.replace("PATTERN", pattern), encoding="utf-8")
    done = run_cli("validate", str(playbook))
    assert done.returncode == 1, done.stderr[-2000:]  # a finding, as for any bad pattern
    assert f"{playbook}:9:33: inputs.node.pattern: pattern of 688,889 characters" in done.stdout
    assert "Traceback" not in done.stderr
    assert len(done.stdout) < 2000  # the pattern is not repeated back


LONG_PATTERN_PLAYBOOK = """\
apiVersion: runbook/v1
kind: Playbook
metadata:
  name: long-pattern
  version: 1.0.0
  maturity: 1
  owner: sre
inputs:
  node: {type: string, pattern: 'PATTERN'}
steps:
  - id: look
    readonly: true
    shell: {run: uptime}
"""
