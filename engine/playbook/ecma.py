"""ECMA-262 regular expressions: the dialect of JSON Schema's `pattern` and of inputs.

JSON Schema, editors, ajv and check-jsonschema read a `pattern` as ECMA-262 (with the
`u` flag, as check-jsonschema does). Python's `re` differs where it matters: its `$`
also matches before a trailing newline (`name: "tiny\\n"` passes `^[a-z]+$`), its `\\d`
and `\\w` take every Unicode digit and letter, and it knows syntax ECMA-262 does not.
So patterns are matched by `regress`, a Rust ECMA-262 engine (the one check-jsonschema
uses), and `to_python` turns them into Python patterns that match exactly the same
strings: for the compiled fast path of the schema, and for `linear`.

Text from outside the playbook (an alert's labels, a value given with `-i`) never meets
a backtracking engine: `linear` runs the pattern with RE2 (engine.core.linear_regex),
in time linear in the text, and refuses (NotLinear) what RE2 cannot run the same way:
backreferences, lookarounds, Unicode property escapes.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING

from engine.core.linear_regex import (
    LINEAR_HINT,
    MAX_PATTERN_CHARACTERS,
    LinearPattern,
    NotLinear,
    translated_linear,
)

if TYPE_CHECKING:
    import regress

__all__ = [
    "NotLinear",
    "PatternError",
    "PatternTooLong",
    "compiled",
    "full_match",
    "linear",
    "search",
    "to_python",
]


class PatternError(ValueError):
    """Not an ECMA-262 regular expression, or not one `to_python` can translate."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


class PatternTooLong(PatternError):
    """Longer than `MAX_PATTERN_CHARACTERS`: refused before any engine reads it."""


# MAX_PATTERN_CHARACTERS, as for Python patterns: regress also reads an alternation on
# the stack (about 80,000 alternatives fill a thread's 8 MiB and kill the process).


@lru_cache(maxsize=256)
def compiled(pattern: str) -> regress.Regex:
    """The ECMA-262 (`u` flag) regular expression; PatternError when it is not one."""
    import regress

    if len(pattern) > MAX_PATTERN_CHARACTERS:
        raise PatternTooLong(
            f"pattern of {len(pattern):,} characters, over the"
            f" {MAX_PATTERN_CHARACTERS:,} a pattern may have",
            "match the values' shape (e.g. ^[a-z0-9-]+$) rather than list them all",
        )
    try:
        return regress.Regex(pattern, flags="u")
    except regress.RegressError as exc:
        raise PatternError(str(exc)) from None


def search(pattern: str, text: str) -> bool:
    """Whether `pattern` matches somewhere in `text` (JSON Schema's `pattern`)."""
    return compiled(pattern).find(text) is not None


def full_match(pattern: str, text: str) -> bool:
    """Whether `pattern` matches the whole of `text`, in time linear in the text; a
    PatternError when it is not ECMA-262, NotLinear when RE2 cannot run it."""
    return linear(pattern).search(text)


@lru_cache(maxsize=256)
def linear(pattern: str) -> LinearPattern:
    """`pattern`, matched against a whole text, as RE2 runs it (linear in the text)."""
    compiled(pattern)  # `a)(b` is refused before it is wrapped into `\A(?:a)(b)\Z`
    try:
        python = to_python(pattern)
        return translated_linear(f"\\A(?:{python})\\Z")
    except PatternError as exc:
        raise NotLinear(str(exc), exc.hint or LINEAR_HINT) from None
    except (re.error, RecursionError) as exc:  # Python's reading refuses what regress took
        raise NotLinear(f"not translatable ({exc})", "write it more simply") from None


# ECMA-262 classes written out; Python's are Unicode-wide.
_DIGIT = "0-9"
_WORD = "A-Za-z0-9_"
_SPACE = "\\t\\n\\x0b\\x0c\\r \\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff"
# Their complements, for `[\\D…]` (Python's own `\\D` in a class is Unicode-wide).
_NOT_DIGIT = "\\x00-\\x2f\\x3a-\\U0010ffff"
_NOT_WORD = "\\x00-\\x2f\\x3a-\\x40\\x5b-\\x5e\\x60\\x7b-\\U0010ffff"
_NOT_SPACE = (
    "\\x00-\\x08\\x0e-\\x1f\\x21-\\x9f\\xa1-\\u167f\\u1681-\\u1fff\\u200b-\\u2027"
    "\\u202a-\\u202e\\u2030-\\u205e\\u2060-\\u2fff\\u3001-\\ufefe\\uff00-\\U0010ffff"
)
_IN_CLASS = {
    "d": _DIGIT,
    "D": _NOT_DIGIT,
    "w": _WORD,
    "W": _NOT_WORD,
    "s": _SPACE,
    "S": _NOT_SPACE,
    "b": "\\x08",
}
_OUTSIDE = {
    "d": f"[{_DIGIT}]",
    "D": f"[^{_DIGIT}]",
    "w": f"[{_WORD}]",
    "W": f"[^{_WORD}]",
    "s": f"[{_SPACE}]",
    "S": f"[^{_SPACE}]",
    "b": "(?a:\\b)",  # ECMA-262's word boundary is ASCII's
    "B": "(?a:\\B)",
}
_EMPTY_CLASSES = {"[]": "[^\\x00-\\U0010ffff]", "[^]": "[\\x00-\\U0010ffff]"}
# Escapes that mean the same character in both dialects.
_LITERAL_ESCAPES = frozenset("tnrfv0\\/^$.*+?()[]{}|-")
_GROUP_OPENERS = ("(?:", "(?=", "(?!", "(?<=", "(?<!")
_HEX = frozenset("0123456789abcdefABCDEF")
_PROPERTY_HINT = (
    "Unicode property escapes are not supported (RE2's Unicode tables differ);"
    " write the characters as a class, e.g. [A-Za-z\\u00c0-\\u024f]"
)


def to_python(pattern: str) -> str:
    """A Python pattern that `re.search` matches on exactly the strings ECMA-262 does.

    Classes, escapes, `\\d \\w \\s \\b`, anchors, groups (named ones become plain),
    lookarounds and quantifiers are translated; backreferences, `\\p{…}` and `--` in a
    class are a PatternError, and the caller keeps to `regress` (or refuses them).
    """
    compiled(pattern)
    out: list[str] = []
    index, in_class = 0, False
    while index < len(pattern):
        empty = next(
            (c for c in _EMPTY_CLASSES if not in_class and pattern.startswith(c, index)), ""
        )
        if empty:
            text, width = _EMPTY_CLASSES[empty], len(empty)
        elif pattern[index] == "\\":
            text, width = _escape(pattern, index, in_class)
        elif in_class:
            text, width = _in_class(pattern, index)
            in_class = pattern[index] != "]"
        else:
            text, width = _outside(pattern, index)
            in_class = pattern[index] == "["
        out.append(text)
        index += width
    return "".join(out)


# Characters a Python class reads otherwise (`[$]` is rewritten by fastjsonschema,
# `[[`, `&&`, `~~`, `||` may become set operations): written escaped.
_CLASS_ESCAPED = {"$": "\\$", "[": "\\[", "&": "\\&", "~": "\\~", "|": "\\|"}


def _in_class(pattern: str, index: int) -> tuple[str, int]:
    if pattern.startswith("--", index):
        raise PatternError(f"'--' in a class at {index}", "write a '-' in a class as \\-")
    char = pattern[index]
    return _CLASS_ESCAPED.get(char, char), 1


def _outside(pattern: str, index: int) -> tuple[str, int]:
    char = pattern[index]
    if char == "[":
        return ("[^", 2) if pattern.startswith("[^", index) else ("[", 1)
    if char == "(":
        opener = next((o for o in _GROUP_OPENERS if pattern.startswith(o, index)), "(")
        if opener == "(" and pattern.startswith("(?<", index):  # a named group
            return "(?:", pattern.index(">", index) - index + 1
        if opener == "(" and pattern.startswith("(?", index):
            raise PatternError(f"group syntax at {index}")
        return opener, len(opener)
    return {"$": "\\Z", ".": "[^\\n\\r\\u2028\\u2029]"}.get(char, char), 1


def _escape(pattern: str, index: int, in_class: bool) -> tuple[str, int]:
    letter = pattern[index + 1]
    if letter in _LITERAL_ESCAPES:
        return ("\\" + letter if letter != "0" else "\\x00"), 2
    if letter in "ux":
        return _code_point_escape(pattern, index)
    if letter == "c":  # a control character: \\cJ is a line feed
        return f"\\x{ord(pattern[index + 2]) % 32:02x}", 3
    table = _IN_CLASS if in_class else _OUTSIDE
    if letter in table:
        return table[letter], 2
    if letter in "123456789k":
        raise PatternError(f"a backreference (\\{letter}) at {index}", LINEAR_HINT)
    if letter in "pP":
        raise PatternError(f"a Unicode property escape (\\{letter}) at {index}", _PROPERTY_HINT)
    raise PatternError(f"escape \\{letter} at {index}")


def _code_point_escape(pattern: str, index: int) -> tuple[str, int]:
    """`\\xHH`, `\\uHHHH` (a surrogate pair of two is one code point) and `\\u{H…}`."""
    if pattern[index + 1] == "x":
        return pattern[index : index + 4], 4
    if pattern.startswith("{", index + 2):
        end = pattern.index("}", index)
        return f"\\U{int(pattern[index + 3 : end], 16):08x}", end - index + 1
    value = int(pattern[index + 2 : index + 6], 16)
    low = pattern[index + 8 : index + 12]
    pair = pattern.startswith("\\u", index + 6) and len(low) == 4 and set(low) <= _HEX
    if 0xD800 <= value <= 0xDBFF and pair and 0xDC00 <= int(low, 16) <= 0xDFFF:
        joined = 0x10000 + ((value - 0xD800) << 10) + (int(low, 16) - 0xDC00)
        return f"\\U{joined:08x}", 12
    return f"\\u{value:04x}", 6
