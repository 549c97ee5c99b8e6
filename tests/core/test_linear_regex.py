"""Python patterns run by RE2 (engine.core.linear_regex): the same verdicts as `re.search`
on every text, in time linear in the text, and a refusal naming what RE2 cannot do."""

from __future__ import annotations

import ast
import re
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pattern_strategies import patterns

from engine.core.linear_regex import NotLinear, linear

# Pieces where RE2's dialect and Python's part: Unicode `\d \w \s`, `.` and line ends,
# `$` before a final newline, MULTILINE, DOTALL and ASCII.
ATOMS = [
    "a",
    "z",
    "é",
    "٣",
    ".",
    r"\d",
    r"\D",
    r"\w",
    r"\W",
    r"\s",
    r"\S",
    r"\A",
    r"\Z",
    "^",
    r"\n",
    r"\.",
    "[a-c]",
    r"[^\d\s]",
    r"[\w-]",
    r"[^\n]",
    r"(?a:\b)",
    r"(?a:\w)",
    r"(?s:.)",
    r"(?i:[a-cé])",
    r"(?i:k)",
    "s",
    "K",
    "ß",
    "[^k]",
]
QUANTIFIERS = ["", "", "*", "+", "?", "{2}", "{0,2}", "*?", "+?"]
FLAGS = ["", "", "(?s)", "(?m)", "(?a)", "(?ms)", "(?i)", "(?ia)"]
TEXT_ALPHABET = "acz éA09_.-\t\n\r\x0b\x0c\x1c\x85\xa0\u2028١٣ßkKsS\u212a\u017f\u1e9eÉ"


def _python_patterns() -> st.SearchStrategy[str]:
    body = patterns(ATOMS, QUANTIFIERS, ["(", "(?:", "(?P<g>"], QUANTIFIERS)
    body = body.filter(lambda p: p.count("(?P<g>") <= 1)
    end = st.sampled_from(["", "", "$", "\\n$", "$|a"])
    return st.builds(lambda f, b, e: f + b + e, st.sampled_from(FLAGS), body, end).filter(_valid)


def _valid(pattern: str) -> bool:
    try:
        re.compile(pattern)
    except re.error:
        return False
    return True


@settings(max_examples=3000, deadline=None)
@given(pattern=_python_patterns(), text=st.text(alphabet=TEXT_ALPHABET, max_size=6))
def test_re2_finds_a_match_exactly_where_python_does(pattern: str, text: str) -> None:
    try:
        compiled = linear(pattern)
    except NotLinear as exc:  # only a '$' with more after it is refused here
        assert "'$' before more of the pattern" in str(exc)
        return
    assert compiled.search(text) is bool(re.search(pattern, text)), compiled.translated


@pytest.mark.parametrize(
    ("pattern", "text", "found"),
    [
        (r"^version 1\.2[0-9]$", "version 1.22\n", True),  # '$' before a final newline
        (r"^ok$", "ok\n\n", False),
        (r"^\d+$", "١٢٣", True),  # Python's \d is Unicode-wide, RE2's is not
        (r"^\w+$", "héllo", True),
        (r"^\s$", "\x1c", True),
        (r"(?a)^\w+$", "héllo", False),
        (r"a.b", "a\nb", False),
        (r"(?s)a.b", "a\nb", True),
        (r"(?m)^b$", "a\nb\nc", True),
        (r"^b", "a\nb", False),
        (r"[^a]", "\U0001f600", True),
        (r"(?i)ready", "READY", True),
        (r"(?i)k", "\u212a", True),  # the Kelvin sign folds to k in Python
        (r"(?ia)k", "\u212a", False),
        (r"(?i)[^k]", "K", False),
        (r"(?i:[a-c])d", "Bd", True),
        (r"(?i:[a-c])d", "BD", False),
    ],
)
def test_python_verdicts(pattern: str, text: str, found: bool) -> None:
    assert linear(pattern).search(text) is found
    assert bool(re.search(pattern, text)) is found


@pytest.mark.parametrize(
    ("pattern", "fragment"),
    [
        (r"(a)\1", "a backreference"),
        (r"(?P<x>a)(?P=x)", "a backreference"),
        (r"a(?=b)", "a lookaround"),
        (r"(?<!a)b", "a negative lookaround"),
        (r"(a)?(?(1)b|c)", "a conditional group"),
        (r"(?>a+)b", "an atomic group"),
        (r"a++b", "a possessive quantifier"),
        (r"\bready\b", r"'\b'"),
        (r"ok$\n", "'$' before more of the pattern"),
        (r"(ok$)+", "'$' before more of the pattern"),
        (r"a{1001}", "RE2 cannot run it"),
        ("(" * 400 + "a" + ")" * 400, "nested too deeply"),
        ("(" * 2000 + "a" + ")" * 2000, "nested too deeply"),
    ],
)
def test_what_re2_cannot_run_the_same_way_is_refused_with_the_fix(
    pattern: str, fragment: str
) -> None:
    with pytest.raises(NotLinear) as refused:
        linear(pattern)
    assert fragment in str(refused.value)
    assert refused.value.hint


def test_a_redos_pattern_decides_hostile_output_at_once() -> None:
    started = time.perf_counter()
    assert not linear(r"^(\w+\s?)+$").search("a" * 5000 + "!")
    assert not linear(r"(x+x+)+y").search("x" * 5000)
    assert time.perf_counter() - started < 0.5


# Characters whose case folding is Python's own (Kelvin sign, long s, final sigma, dotted
# and dotless i, titlecase digraphs, ligatures, Deseret, Adlam), and classes of them.
FOLDING = "kKßẞİıiIσςΣſsǅǄǆﬀͅιΙᾀᾈÅåÅⒶⓐⅠⅰ𐐀𐐨𞤀𞤢5_-"
FOLDED_CLASSES = [r"[a-z]", r"[^k]", r"[Ā-ɏ]", r"[^\w]", r"[\W]", r"[ſ-ƀ]", r"[^ǅ-ǌ]", r"[\d-]"]


def test_a_long_pattern_under_ignorecase_is_translated_at_once_and_folds_as_python() -> None:
    # each character and class is asked of Python: only the few it may match, not
    # every character there is (14 ms each: a pattern of 500 took seven seconds)
    started = time.perf_counter()
    linear("(?i)" + "".join(chr(0x4E00 + n) for n in range(500)))
    linear("(?i)" + "".join(f"[{chr(0x100 + 2 * n)}-{chr(0x200 + n)}]" for n in range(100)))
    assert time.perf_counter() - started < 1.0

    texts = {chr(n) for n in range(0x10000) if chr(n).lower() != chr(n).upper()}
    texts |= set(FOLDING) | {"\u212a", "\u1e9e", "\u1fbe", "\U0001e900", "\U0001e922"}
    for pattern in [
        *(f"(?i){re.escape(c)}" for c in FOLDING),
        *("(?i)" + c for c in FOLDED_CLASSES),
    ]:
        compiled = linear(pattern)
        wrong = [t for t in sorted(texts) if compiled.search(t) is not bool(re.search(pattern, t))]
        assert wrong == [], pattern


def test_counted_repeats_adding_up_past_what_re2_compiles_quickly_are_refused_at_once() -> None:
    # RE2 writes out every copy a count asks for; its compile time grows with the square
    # of them: fifty of {0,1000} took 3 s, two hundred a minute (a check, or a server
    # reloading its playbooks, waits all that time)
    started = time.perf_counter()
    with pytest.raises(NotLinear) as refused:
        linear("(?:a){0,1000}" * 50)
    assert "counted repeats" in str(refused.value) and refused.value.hint
    assert time.perf_counter() - started < 1.0
    linear("(?:a){0,1000}" * 10)  # ten thousand copies: a fifth of a second
    linear("(?:ab|c)?" * 1_000)  # ?, * and + are not written out


def test_a_pattern_longer_than_re2_compiles_quickly_is_refused_at_once() -> None:
    # RE2's compile time grows faster than the pattern: 100,000 of `a?` took 8 s
    started = time.perf_counter()
    with pytest.raises(NotLinear) as refused:
        linear("a?" * 100_000)
    assert "pattern of 200,000 characters" in str(refused.value) and refused.value.hint
    assert time.perf_counter() - started < 0.5
    linear("a?" * 5_000)


def test_text_with_a_lone_surrogate_matches_nothing() -> None:
    assert not linear("a").search("a\ud800")


ENGINE = Path(__file__).resolve().parents[2] / "engine"
_RE_CALLS = {"compile", "match", "search", "fullmatch", "sub", "split", "findall", "finditer"}
# Files whose `re` patterns are built, each for a reason: secrets' forms, each
# `re.escape`d (an alternation of literals); one character of a pattern asked of Python
# on the engine's own text of every character (linear_regex).
_BUILT = {"templating/redaction.py", "core/linear_regex.py"}


def test_only_the_engine_s_own_patterns_are_compiled_by_re() -> None:
    """A pattern a playbook gives is run by RE2 (`linear`); `re` gets only patterns
    written in the engine (a constant), so none backtracks on a pattern nobody read."""
    found = []
    for file in sorted(ENGINE.rglob("*.py")):
        name = file.relative_to(ENGINE).as_posix()
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            owner = node.func.value
            if not (isinstance(owner, ast.Name) and owner.id == "re") or name in _BUILT:
                continue
            built = node.args and not isinstance(node.args[0], ast.Constant)
            if node.func.attr in _RE_CALLS and built:
                found.append(f"{name}:{node.lineno}")
    assert found == []
