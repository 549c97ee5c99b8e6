"""Redaction: every form a secret can take in output (as given, quoted, JSON-escaped,
base64 and URL-encoded, each of its lines) replaced by a mark that names it, in text
and in data."""

from __future__ import annotations

import base64
import json
import re
import shlex
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

from engine.core.output_cuts import LINE_MARK_START, TAIL_MARK_END

_PART = 4  # the shortest part of a cut secret that is redacted
_LINE = 8  # the shortest line of a multi-line secret redacted on its own
_ENCODED = 8  # the shortest encoded form (base64 core) redacted


class Redactor:
    """Replaces every secret value in text with `«redacted:NAME»`.

    Every non-empty value is redacted, however short: a secret of one or two characters
    will blank out those characters wherever they appear, so short secrets make output
    hard to read (and are weak secrets anyway). Besides the raw value, the forms a
    command or a log may turn it into are redacted (`_forms`: shell-quoted, JSON and
    Python escapes, `\\u` escapes, URL encoding, hex, base64 at any alignment), each
    line of a multi-line value (a PEM key printed line by line), and the part of a
    value left beside a mark where the engine cut output (engine.core.output_cuts). A longer
    form wins over a shorter one that it contains. The value as written, quoted or
    escaped is redacted in any case too (a template's `upper`, `lower` or `title` of a
    secret), found in the text lower-cased. Redact whole lines or documents: a
    value split across two separately redacted chunks is not recognised.
    """

    def __init__(self, secrets: Mapping[str, str]) -> None:
        self._names: dict[str, str] = {}  # form of a value -> secret name
        for name, value in secrets.items():
            for form in _forms(value):
                self._names.setdefault(form, name)
        self._pattern = _alternatives(self._names, 0)
        self._folded: dict[str, str] = {}  # a written form lower-cased -> secret name
        for name, value in secrets.items():
            for form in _written_forms(value):
                self._folded.setdefault(form.lower(), name)
        self._lowered = _alternatives(self._folded, 0)
        self._any_case = _alternatives(self._folded, re.IGNORECASE)
        self._raw = {value: name for name, value in secrets.items() if value}

    def __bool__(self) -> bool:
        return self._pattern is not None

    def redact(self, text: str) -> str:
        """`text` with every occurrence of every secret (in any form) replaced."""
        if self._pattern is None:
            return text
        found = [(m.start(), m.end(), self._names[m.group()]) for m in self._pattern.finditer(text)]
        found += self._in_any_case(text)
        if found:
            text = _replaced(text, found)
        if TAIL_MARK_END in text or LINE_MARK_START in text:
            text = self._redact_at_cuts(text)
        return text

    def redact_data(self, data: Any) -> Any:
        """`redact` applied to every string (keys too) in nested dicts, lists and tuples."""
        if self._pattern is None:
            return data
        if isinstance(data, str):
            return self.redact(data)
        if isinstance(data, Mapping):
            return {self.redact_data(key): self.redact_data(value) for key, value in data.items()}
        if isinstance(data, list):
            return [self.redact_data(item) for item in data]
        if isinstance(data, tuple):
            return tuple(self.redact_data(item) for item in data)
        return data

    def secret_in(self, text: str) -> str | None:
        """The name of a secret occurring in `text`, or None."""
        found = self._pattern.search(text) if self._pattern is not None else None
        if found:
            return self._names[found.group()]
        return next((name for _, _, name in self._in_any_case(text)), None)

    def _in_any_case(self, text: str) -> Iterator[tuple[int, int, str]]:
        """Where a written form of a secret is in `text` in another case: searched in
        the text lower-cased (as fast as an exact search) when that keeps every position."""
        lowered = text.lower()
        if self._lowered is not None and len(lowered) == len(text):
            for match in self._lowered.finditer(lowered):
                yield match.start(), match.end(), self._folded[match.group()]
        elif self._any_case is not None:
            for match in self._any_case.finditer(text):
                yield match.start(), match.end(), self._folded_name(match.group())

    def _folded_name(self, found: str) -> str:
        return self._folded.get(found.lower()) or next(
            name
            for form, name in self._folded.items()
            if re.fullmatch(re.escape(form), found, re.IGNORECASE)
        )

    def _redact_at_cuts(self, text: str) -> str:
        """The end of a value that starts a cut tail, the start of one that ends a cut
        line: at least `_PART` characters of it (all of a shorter value)."""
        parts = text.split(TAIL_MARK_END)
        parts[1:] = [self._redact_head(part) for part in parts[1:]]
        text = TAIL_MARK_END.join(parts)
        parts = text.split(LINE_MARK_START)
        parts[:-1] = [self._redact_tail(part) for part in parts[:-1]]
        return LINE_MARK_START.join(parts)

    def _redact_head(self, text: str) -> str:
        for value, name in self._raw.items():
            for size in range(len(value) - 1, min(_PART, len(value)) - 1, -1):
                if text.startswith(value[-size:]):
                    return f"«redacted:{name}, cut»{text[size:]}"
        return text

    def _redact_tail(self, text: str) -> str:
        for value, name in self._raw.items():
            for size in range(len(value) - 1, min(_PART, len(value)) - 1, -1):
                if text.endswith(value[:size]):
                    return f"{text[:-size]}«redacted:{name}, cut»"
        return text


def _replaced(text: str, found: list[tuple[int, int, str]]) -> str:
    """`text` with each found span (start, end, secret name) replaced by its mark, once:
    of spans that overlap, the first and then the longest wins."""
    parts: list[str] = []
    end = 0
    for start, stop, name in sorted(found, key=lambda span: (span[0], span[0] - span[1])):
        if start < end:
            continue
        parts += [text[end:start], f"«redacted:{name}»"]
        end = stop
    return "".join([*parts, text[end:]])


def _alternatives(forms: Mapping[str, str], flags: int) -> re.Pattern[str] | None:
    """One pattern of every form, the longest first (a longer form wins)."""
    ordered = sorted(forms, key=len, reverse=True)
    return re.compile("|".join(map(re.escape, ordered)), flags) if ordered else None


def _written_forms(value: str) -> set[str]:
    """The value as written, shell-quoted and escaped: what a template's change of case
    keeps recognisable (an encoding of the value changed in case is another text)."""
    if not value:
        return set()
    json_forms = {json.dumps(value, ensure_ascii=only_ascii)[1:-1] for only_ascii in (True, False)}
    return {value, shlex.quote(value), repr(value)[1:-1], *json_forms} - {""}


def _forms(value: str) -> set[str]:
    """The spellings under which a value may show up in output or logs."""
    if not value:
        return set()
    forms = _written_forms(value) | _encoded_forms(value)
    forms |= {_base64(cased) for cased in (value.upper(), value.lower()) if cased != value}
    forms |= {line for line in _secret_lines(value) if len(line) >= _LINE}
    return forms - {""}


def _secret_lines(value: str) -> list[str]:
    """The lines of a multi-line value, but PEM armour (`-----BEGIN …-----`), which is
    the same in every key."""
    if "\n" not in value:
        return []
    lines = (line.strip() for line in value.splitlines())
    return [line for line in lines if line and not line.startswith("-----")]


def _base64(value: str) -> str:
    """The base64 of a value changed in case (a template's `upper | b64encode`)."""
    return base64.b64encode(value.encode("utf-8", "surrogateescape")).decode()


def _encoded_forms(value: str) -> set[str]:
    data = value.encode("utf-8", "surrogateescape")
    forms = {
        quote(value, safe=""),
        quote_plus(value, safe=""),
        data.hex(),
        data.hex().upper(),
        "".join(f"\\u{ord(char):04x}" for char in value if ord(char) <= 0xFFFF),
        *_base64_cores(data),
    }
    return {form for form in forms if len(form) >= min(_ENCODED, 2 * len(value))}


def _base64_cores(data: bytes) -> set[str]:
    """Base64 of `data` as it appears inside a longer encoded text, at each of the three
    alignments: only the characters that depend on `data` alone (plus the whole
    encoding, padding included, for `data` encoded on its own)."""

    cores: set[str] = set()
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        cores.add(encode(data).decode())
        for offset in range(3):
            encoded = encode(bytes(offset) + data).decode()
            first, last = -(-offset // 3), (offset + len(data)) // 3
            core = encoded[4 * first : 4 * last]
            if len(core) >= _ENCODED:
                cores.add(core)
    return cores
