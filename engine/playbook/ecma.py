"""ECMA-262 regular expressions: the dialect of JSON Schema's `pattern` and of inputs.

JSON Schema, editors, ajv and check-jsonschema read a `pattern` as ECMA-262 (with the
`u` flag, as check-jsonschema does). Python's `re` differs where it matters: its `$`
also matches before a trailing newline (`name: "tiny\\n"` passes `^[a-z]+$`), its `\\d`
and `\\w` take every Unicode digit and letter, and it knows syntax ECMA-262 does not.
So patterns are matched by `regress`, a Rust ECMA-262 engine (the one check-jsonschema
uses), and `to_python` turns the simple patterns of the schema into Python patterns
that match exactly the same strings, for the compiled fast path.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import regress

__all__ = ["PatternError", "compiled", "full_match", "search", "to_python"]


class PatternError(ValueError):
    """Not an ECMA-262 regular expression, or not one `to_python` can translate."""


@lru_cache(maxsize=256)
def compiled(pattern: str) -> regress.Regex:
    """The ECMA-262 (`u` flag) regular expression; PatternError when it is not one."""
    import regress

    try:
        return regress.Regex(pattern, flags="u")
    except regress.RegressError as exc:
        raise PatternError(str(exc)) from None


def search(pattern: str, text: str) -> bool:
    """Whether `pattern` matches somewhere in `text` (JSON Schema's `pattern`)."""
    return compiled(pattern).find(text) is not None


def full_match(pattern: str, text: str) -> bool:
    """Whether `pattern` matches the whole of `text`."""
    compiled(pattern)  # `a)(b` is refused before it is wrapped into `^(?:a)(b)$`
    return compiled(f"^(?:{pattern})$").find(text) is not None


# ECMA-262 classes written out; Python's are Unicode-wide.
_DIGIT = "0-9"
_WORD = "A-Za-z0-9_"
_SPACE = "\\t\\n\\x0b\\x0c\\r \\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff"
_IN_CLASS = {"d": _DIGIT, "w": _WORD, "s": _SPACE}
_OUTSIDE = {
    "d": f"[{_DIGIT}]",
    "D": f"[^{_DIGIT}]",
    "w": f"[{_WORD}]",
    "W": f"[^{_WORD}]",
    "s": f"[{_SPACE}]",
    "S": f"[^{_SPACE}]",
}
# Escapes that mean the same character in both dialects.
_LITERAL_ESCAPES = frozenset("tnrfv0\\/^$.*+?()[]{}|-")
_GROUP_OPENERS = ("(?:", "(?=", "(?!", "(?<=", "(?<!")


def to_python(pattern: str) -> str:
    """A Python pattern that `re.search` matches on exactly the strings ECMA-262 does.

    Only the plain subset is translated (classes, escapes of punctuation, `\\d \\w \\s`,
    anchors, groups, quantifiers); anything else (`\\b`, `\\p{…}`, backreferences,
    named groups, `\\u{…}`) is a PatternError, and the caller keeps to `regress`.
    """
    compiled(pattern)
    out: list[str] = []
    index, in_class = 0, False
    while index < len(pattern):
        if pattern[index] == "\\":
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
        raise PatternError(f"'--' in a class at {index}")
    char = pattern[index]
    return _CLASS_ESCAPED.get(char, char), 1


def _outside(pattern: str, index: int) -> tuple[str, int]:
    char = pattern[index]
    if char == "[":
        if pattern.startswith(("[]", "[^]"), index):
            raise PatternError(f"empty class at {index}")
        return ("[^", 2) if pattern.startswith("[^", index) else ("[", 1)
    if char == "(":
        opener = next((o for o in _GROUP_OPENERS if pattern.startswith(o, index)), "(")
        if opener == "(" and pattern.startswith("(?", index):
            raise PatternError(f"group syntax at {index}")
        return opener, len(opener)
    return {"$": "\\Z", ".": "[^\\n\\r\\u2028\\u2029]"}.get(char, char), 1


def _escape(pattern: str, index: int, in_class: bool) -> tuple[str, int]:
    letter = pattern[index + 1]
    if letter in _LITERAL_ESCAPES:
        return ("\\" + letter if letter != "0" else "\\x00"), 2
    if letter == "u" and _is_hex(pattern[index + 2 : index + 6]):
        return pattern[index : index + 6], 6
    if in_class and letter in _IN_CLASS:
        return _IN_CLASS[letter], 2
    if not in_class and letter in _OUTSIDE:
        return _OUTSIDE[letter], 2
    raise PatternError(f"escape \\{letter} at {index}")


def _is_hex(text: str) -> bool:
    return len(text) == 4 and all(c in "0123456789abcdefABCDEF" for c in text)
