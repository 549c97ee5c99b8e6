"""Regular expressions that run in linear time on any text: a Python pattern run by RE2.

A backtracking engine (Python's `re`, `regress`) can take exponential time on a pattern
such as `^(\\w+\\s?)+$` and a 40-character text ending in `!`. Text the playbook's author
does not write (an alert's labels, a command's output) reaches patterns, so such text
only ever meets RE2, which is linear in the text.

The pattern is read by Python's own parser (`re._parser`: the dialect is exactly
Python's, quirks included) and each node written as RE2 syntax that matches the same
characters: every class written out as code-point ranges (Python's `\\d \\w \\s` are
Unicode-wide, RE2's ASCII), `.` without or with DOTALL, `$` as Python reads it (the end,
or before a final newline). What RE2 cannot do, or not in the same way, is a
`NotLinear` error naming the construct: backreferences, lookarounds, conditionals,
atomic groups and possessive quantifiers, Unicode `\\b`, and a non-final `$`. Under
IGNORECASE each character and class is written out as the set Python's folding gives.
Only whether a pattern matches is answered (`search`), never where.
"""

from __future__ import annotations

import _sre  # type: ignore[import-not-found]  # re's own case predicate
import re
import re._constants as sre  # type: ignore[import-not-found]  # the node kinds of re._parser
import re._parser as sre_parse  # type: ignore[import-not-found]  # Python's own reading
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from functools import lru_cache
from itertools import accumulate
from typing import Any

import re2

__all__ = [
    "MAX_COPIES",
    "MAX_PATTERN_CHARACTERS",
    "LinearPattern",
    "NotLinear",
    "PatternTooLong",
    "linear",
    "translated_linear",
]

LINEAR_HINT = (
    "backreferences and lookarounds can take exponential time on text from outside the"
    " playbook; rewrite the pattern without them"
)
_MAX_CODE_POINT = 0x10FFFF
_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # RE2 would print each refused pattern to stderr
_OPTIONS.never_capture = True  # only whether it matches counts
_OPTIONS.max_mem = 8 << 20  # per pattern, for its program and its DFA (RE2 falls back to NFA)
_CATEGORY_PATTERNS = {"DIGIT": r"\d", "WORD": r"\w", "SPACE": r"\s"}
Ranges = list[tuple[int, int]]


class NotLinear(ValueError):
    """A pattern RE2 cannot run with the same meaning: what is wrong, and the fix."""

    def __init__(self, message: str, hint: str = LINEAR_HINT) -> None:
        super().__init__(message)
        self.hint = hint


class PatternTooLong(NotLinear):
    """Over MAX_PATTERN_CHARACTERS: RE2 compiles in time that grows faster than a
    pattern's length (100,000 of `a?` take 8 s), so none longer is read."""


MAX_PATTERN_CHARACTERS = 10_000


class LinearPattern:
    """A pattern compiled for RE2; `search` takes time linear in the text."""

    def __init__(self, source: str, translated: str) -> None:
        self.source = source
        self.translated = translated
        try:
            self._regex = re2.compile(translated, _OPTIONS)
        except re2.error as exc:  # a counted repeat over 1000, or past max_mem
            detail = exc.args[0] if exc.args else ""
            detail = detail.decode(errors="replace") if isinstance(detail, bytes) else str(detail)
            raise NotLinear(
                f"RE2 cannot run it ({detail})",
                "keep counted repeats ({n,m}) at 1000 or under, and repeated classes small",
            ) from None

    def search(self, text: str) -> bool:
        """Whether the pattern matches somewhere in `text`.

        A lone surrogate (which no command argument, environment variable or decoded
        output holds) has no UTF-8 form for RE2: such text matches nothing.
        """
        try:
            return self._regex.search(text) is not None
        except UnicodeEncodeError:
            return False


def linear(pattern: str) -> LinearPattern:
    """The Python `pattern` as RE2: matches exactly where `re.search` does; NotLinear when
    that cannot be written or it is over MAX_PATTERN_CHARACTERS (PatternTooLong), re.error
    when it is not a Python pattern at all."""
    if len(pattern) > MAX_PATTERN_CHARACTERS:
        raise PatternTooLong(
            f"pattern of {len(pattern):,} characters, over the"
            f" {MAX_PATTERN_CHARACTERS:,} a pattern may have",
            "match the text's shape (a class, a repeat) rather than list every case",
        )
    return translated_linear(pattern)


@lru_cache(maxsize=256)
def translated_linear(pattern: str) -> LinearPattern:
    """`linear` for a pattern the engine wrote from one whose length it checked (an
    ECMA-262 pattern's translation, longer than what was written): no length limit."""
    try:
        parsed = sre_parse.parse(pattern)
        flags = int(parsed.state.flags)
        translated = _Writer().sequence(list(parsed), flags, tail=True)
    except RecursionError:
        raise NotLinear("groups nested too deeply", "nest fewer groups") from None
    return LinearPattern(pattern, translated)


class _Writer:
    """Writes parsed nodes as RE2 syntax."""

    def __init__(self) -> None:
        self.copies = 0  # what the counted repeats so far ask RE2 to write out
        self.outer = 1  # copies of the repeat being written, times those around it

    def sequence(self, nodes: Sequence[tuple[Any, Any]], flags: int, tail: bool) -> str:
        last = len(nodes) - 1
        return "".join(
            self.node(op, av, flags, tail and i == last) for i, (op, av) in enumerate(nodes)
        )

    def node(self, op: Any, av: Any, flags: int, tail: bool) -> str:
        folds = bool(flags & re.IGNORECASE)
        if op is sre.LITERAL:
            return _class(_folded(av, flags)) if folds else _code_point(av)
        if op is sre.NOT_LITERAL:
            return _class(_complement(_folded(av, flags) if folds else [(av, av)]))
        if op is sre.ANY:
            return _class([(0, _MAX_CODE_POINT)] if flags & re.DOTALL else _complement([(10, 10)]))
        if op is sre.IN:
            return _class(_folded_set(av, flags) if folds else _set(av, flags))
        if op is sre.BRANCH:
            return "(?:" + "|".join(self.sequence(list(alt), flags, tail) for alt in av[1]) + ")"
        if op is sre.SUBPATTERN:
            _group, add, remove, body = av
            return "(?:" + self.sequence(list(body), (flags | add) & ~remove, tail) + ")"
        if op in (sre.MAX_REPEAT, sre.MIN_REPEAT):
            return self.repeat(av, flags, tail)
        if op is sre.AT:
            return _anchor(av, flags, tail)
        raise NotLinear(_NAMES.get(str(op), str(op).lower()))

    def repeat(self, av: Any, flags: int, tail: bool) -> str:
        low, high, body = av
        copies = low if high is sre.MAXREPEAT else high
        if copies > 1:
            self._count(copies)
        outer, self.outer = self.outer, self.outer * max(copies, 1)
        # Another round may follow a round's end, so it is a tail only when there is one.
        text = self.sequence(list(body), flags, tail and high == 1)
        self.outer = outer
        top = "" if high is sre.MAXREPEAT else str(high)
        bound = f"{{{low}}}" if top == str(low) else f"{{{low},{top}}}"
        return f"(?:{text}){bound}"

    def _count(self, copies: int) -> None:
        """RE2 writes each copy a count asks for out, and compiles in time that grows with
        the square of them (fifty of `{0,1000}` take 3 s): a pattern's are bounded."""
        self.copies += copies * self.outer
        if self.copies > MAX_COPIES:
            raise NotLinear(
                f"counted repeats ({{n,m}}) that add up to over {MAX_COPIES:,} copies,"
                " which RE2 takes long to compile",
                "count fewer, or write * or + where the exact count does not matter",
            )


MAX_COPIES = 10_000  # a fifth of a second of RE2's compile time at worst
_NAMES = {
    "GROUPREF": "a backreference",
    "GROUPREF_EXISTS": "a conditional group ((?(1)…))",
    "ASSERT": "a lookaround ((?=…), (?<=…))",
    "ASSERT_NOT": "a negative lookaround ((?!…), (?<!…))",
    "ATOMIC_GROUP": "an atomic group ((?>…))",
    "POSSESSIVE_REPEAT": "a possessive quantifier (*+, ++, ?+)",
}


def _anchor(at: Any, flags: int, tail: bool) -> str:
    if at is sre.AT_BEGINNING_STRING or (at is sre.AT_BEGINNING and not flags & re.MULTILINE):
        return r"\A"
    if at is sre.AT_BEGINNING:
        return "(?m:^)"
    if at is sre.AT_END_STRING:
        return r"\z"
    if at is sre.AT_END and flags & re.MULTILINE:
        return "(?m:$)"
    if at is sre.AT_END:
        if not tail:
            raise NotLinear(
                "'$' before more of the pattern (Python's '$' also matches before a final"
                " newline, which RE2 can only take as the pattern's last part)",
                r"put '$' last, or write \Z for the very end of the text",
            )
        return r"(?:\n?\z)"  # at the end, or before a final newline that ends the text
    if flags & re.ASCII and at in (sre.AT_BOUNDARY, sre.AT_NON_BOUNDARY):
        return r"\b" if at is sre.AT_BOUNDARY else r"\B"
    raise NotLinear(
        r"'\b' or '\B' between Unicode word characters, which RE2 only knows for ASCII",
        r"match the characters around the word instead, e.g. (^|\W)ready(\W|$), or write (?a:\b)",
    )


def _set(items: Iterable[tuple[Any, Any]], flags: int) -> Ranges:
    """The code points a class (`[…]`) matches."""
    ranges: Ranges = []
    negate = False
    for op, av in items:
        if op is sre.NEGATE:
            negate = True
        elif op is sre.LITERAL:
            ranges.append((av, av))
        elif op is sre.RANGE:
            ranges.append(av)
        elif op is sre.CATEGORY:
            ranges.extend(_category(str(av), flags))
        else:
            raise NotLinear(f"{str(op).lower()} in a class cannot be written for RE2")
    merged = _merge(ranges)
    return _complement(merged) if negate else merged


def _category(name: str, flags: int) -> Ranges:
    """`\\d \\w \\s` and their negations, as Python reads them under `flags`."""
    kind = name.removeprefix("CATEGORY_").removeprefix("NOT_")
    if kind not in _CATEGORY_PATTERNS:
        raise NotLinear(f"{name.lower()} cannot be written for RE2")
    ranges = _asked(_CATEGORY_PATTERNS[kind], flags & re.ASCII)
    return _complement(ranges) if "NOT_" in name else ranges


def _folded(code_point: int, flags: int) -> Ranges:
    """The characters Python's IGNORECASE matches for one: `k` is also `K` and the
    Kelvin sign, `ß` also `ẞ` (Python's folding, which RE2's is not quite)."""
    named = ((code_point, code_point),)
    return _asked_folded(re.escape(chr(code_point)), flags & re.ASCII, named)


def _folded_set(items: Iterable[tuple[Any, Any]], flags: int) -> Ranges:
    """The code points a class matches under IGNORECASE: the class written back as
    Python, and Python asked."""
    parts = ["^"] if any(op is sre.NEGATE for op, _ in items) else []
    for op, av in items:
        if op is sre.LITERAL:
            parts.append(f"\\U{av:08x}")
        elif op is sre.RANGE:
            parts.append(f"\\U{av[0]:08x}-\\U{av[1]:08x}")
        elif op is sre.CATEGORY:
            parts.append(_CATEGORY_ESCAPES[str(av)])
        elif op is not sre.NEGATE:
            raise NotLinear(f"{str(op).lower()} in a class cannot be written for RE2")
    named = tuple(_set(items, flags))
    return _asked_folded(f"[{''.join(parts)}]", flags & re.ASCII, named)


_CATEGORY_ESCAPES = {
    f"CATEGORY_{negation}{kind}": "\\" + (letter.upper() if negation else letter)
    for kind, letter in (("DIGIT", "d"), ("WORD", "w"), ("SPACE", "s"))
    for negation in ("", "NOT_")
}


@lru_cache(maxsize=1024)
def _asked(one_character: str, flags: int) -> Ranges:
    """The code points Python's pattern of one character matches under `flags`: asked
    of Python itself, once (some milliseconds)."""
    found = re.finditer(f"(?:{one_character})+", _every_character(), flags)
    return [(m.start(), m.end() - 1) for m in found]


@lru_cache(maxsize=1024)
def _asked_folded(
    one_character: str, ascii_only: int, named: tuple[tuple[int, int], ...]
) -> Ranges:
    """The code points Python's pattern of one character matches under IGNORECASE, asked
    of Python about the only ones that can match: those it names without folding
    (`named`) and the cased ones (an uncased character folds to no other and no other
    to it). A few hundred characters for a letter, not all 1.1 million (14 ms each)."""
    candidates = _merge([*named, *_cased()])
    offsets = list(accumulate((high - low + 1 for low, high in candidates), initial=0))
    every = _every_character()
    text = "".join(every[low : high + 1] for low, high in candidates)
    found: Ranges = []
    for match in re.finditer(f"(?:{one_character})+", text, re.IGNORECASE | ascii_only):
        start, end = match.span()
        index = bisect_right(offsets, start) - 1
        while start < end:  # the run, cut where the candidates' ranges are
            first = candidates[index][0] + start - offsets[index]
            stop = min(end, offsets[index + 1])
            found.append((first, first + stop - start - 1))
            start, index = stop, index + 1
    return _merge(found)


@lru_cache(maxsize=1)
def _cased() -> Ranges:
    """The code points with a lower or upper case other than themselves: the only ones
    IGNORECASE relates to others (`unicode_iscased`, the test re's compiler makes)."""
    return _merge([(n, n) for n in range(_MAX_CODE_POINT + 1) if _sre.unicode_iscased(n)])


@lru_cache(maxsize=1)
def _every_character() -> str:
    return "".join(map(chr, range(_MAX_CODE_POINT + 1)))


def _merge(ranges: Ranges) -> Ranges:
    merged: Ranges = []
    for low, high in sorted(ranges):
        if merged and low <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], high))
        else:
            merged.append((low, high))
    return merged


def _complement(ranges: Ranges) -> Ranges:
    out: Ranges = []
    start = 0
    for low, high in _merge(ranges):
        if low > start:
            out.append((start, low - 1))
        start = high + 1
    if start <= _MAX_CODE_POINT:
        out.append((start, _MAX_CODE_POINT))
    return out


def _class(ranges: Ranges) -> str:
    if not ranges:
        return r"[^\x00-\x{10FFFF}]"  # matches nothing
    body = "".join(
        _code_point(low) if low == high else f"{_code_point(low)}-{_code_point(high)}"
        for low, high in ranges
    )
    return f"[{body}]"


def _code_point(value: int) -> str:
    char = chr(value)
    return char if char.isascii() and char.isalnum() else f"\\x{{{value:X}}}"
