"""Alertmanager's label matchers: `name=value`, `name!=value`, `name=~re`, `name!~re`.

The syntax and the semantics are Alertmanager's (0.25, `pkg/labels`), so a matcher
copied from a route or a silence means the same thing here:

- the name is a Prometheus label name, the operator one of `=`, `!=`, `=~`, `!~`;
  whitespace around each part is ignored;
- an item of a `matchers:` list may hold several, as in a route: `{a="1", b!="2"}`
  (`parse_matchers`);
- the value may be empty (`env=` is `env=""`) and may be written in double quotes;
  inside, `\\"` is a quote, `\\\\` a backslash and `\\n` a line feed (any other
  backslash is literal), and an unescaped quote anywhere but at the two ends is refused;
- a regular expression is RE2 (Go's dialect: no backreferences, no lookaround; linear
  time on any label value) and matches the whole value: it is compiled as
  `^(?:value)$`, so `=~"crit"` does not match `critical`;
- a label the alert does not carry reads as the empty string: `env!="prod"` matches
  an alert without `env`, `env=~".*"` matches every alert.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import re2
from msgspec.structs import replace

from engine.core.linear_regex import MAX_COPIES, MAX_PATTERN_CHARACTERS
from engine.model.playbook import Matcher

__all__ = ["MatcherError", "matcher_accepts", "parse_matcher", "parse_matchers"]

# Alertmanager's own split of a matcher (Go's \s is [\t\n\f\r ]; `$` is the text's end),
# read from the text stripped of Go's \s at both ends: its `(.*?)\s*$` tried the rest of
# a run of spaces at each space of the value (quadratic in the run).
_GO_REGEX_SPACE = "\t\n\f\r "
_MATCHER = re.compile(
    r"([a-zA-Z_:][a-zA-Z0-9_:]*)[\t\n\f\r ]*(=~|=|!=|!~)[\t\n\f\r ]*(.*)", re.DOTALL
)
# What Go's strings.TrimSpace removes (unicode.IsSpace), which Python's strip() does not
# quite match (it also strips \x1c-\x1f).
_GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B)))
_GO_SPACE += "\u2028\u2029\u202f\u205f\u3000"
_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # RE2 would print each refused pattern to stderr
_OPTIONS.never_capture = True  # only whether it matches counts
# Verdicts on label values up to this length are remembered (`_regex_accepts`).
_REMEMBERED_VALUE = 256
_ESCAPES = {"n": "\n", '"': '"', "\\": "\\"}
_FORM_HINT = 'write NAME OP VALUE with OP one of =, !=, =~, !~, e.g. severity=~"critical|page"'
_QUOTE_HINT = 'write a double quote inside the value as \\"'
_REGEX_HINT = (
    "matcher regular expressions are RE2, as in Alertmanager (no backreferences or"
    " lookaround), and match the whole label value"
)


class MatcherError(ValueError):
    """A matcher that Alertmanager would refuse: what is wrong, and (`hint`) the fix."""

    def __init__(self, message: str, hint: str = _FORM_HINT) -> None:
        super().__init__(message)
        self.hint = hint


def parse_matchers(text: str) -> list[Matcher]:
    """The matchers of one item of an Alertmanager route's `matchers:` list.

    As Alertmanager reads such an item (`ParseMatchers`): an optional `{` and `}` around
    it, and matchers separated by commas outside double quotes (`{env="prod",
    team!="db"}` is two); a trailing comma is ignored. Each is then a `parse_matcher`.
    """
    tokens = _split(text.removeprefix("{").removesuffix("}"))
    return [replace(parse_matcher(token), text=token.strip(_GO_SPACE)) for token in tokens]


def _split(text: str) -> list[str]:
    """Alertmanager's split at the commas outside quotes, quirks included: a backslash
    escapes a quote for this purpose, and a comma inside quotes keeps a pending escape."""
    tokens: list[str] = []
    token: list[str] = []
    inside = escaped = False
    for char in text:
        if char == ",":
            if not inside:
                tokens.append("".join(token))
                token = []
                continue
        elif char == '"':
            inside, escaped = (not inside, escaped) if not escaped else (inside, False)
        elif char == "\\":
            escaped = not escaped
        else:
            escaped = False
        token.append(char)
    if last := "".join(token).strip(_GO_SPACE):
        tokens.append(last)
    return tokens


def parse_matcher(text: str) -> Matcher:
    """The matcher `text` states; MatcherError (a ValueError) when it is malformed."""
    parts = _MATCHER.fullmatch(text.strip(_GO_REGEX_SPACE))
    if parts is None:
        raise MatcherError(f"{_show(text)} is not a label matcher")
    name, op, raw = parts.groups()
    matcher = Matcher(name, op, _unquote(raw, text), text)
    if matcher.is_regex:
        _refuse_too_long(matcher.value)
        _refuse_what_go_refuses(matcher.value)
        _compiled(matcher.value)
    return matcher


def _refuse_too_long(value: str) -> None:
    """RE2's compile time grows faster than a pattern's length (100,000 of `a?` take 8 s,
    at every check and reload) and than the copies its counts ask for (fifty of
    `{0,1000}` take 3 s): both are bounded as for a pattern (engine.core.linear_regex)."""
    if len(value) > MAX_PATTERN_CHARACTERS:
        raise MatcherError(
            f"{_show(value, 40)}: a regular expression of {len(value):,} characters, over"
            f" the {MAX_PATTERN_CHARACTERS:,} a pattern may have",
            "match the values' shape (a class, a repeat) rather than list them all",
        )
    # each {n}, {n,} or {n,m}, counted whether nested or escaped (RE2 refuses nested
    # counts over 1,000 itself)
    copies = sum(int(top or low) for low, top in _COUNTS.findall(value))
    if copies > MAX_COPIES:
        raise MatcherError(
            f"{_show(value, 40)}: counted repeats ({{n,m}}) that add up to over"
            f" {MAX_COPIES:,} copies, which RE2 takes long to compile",
            "count fewer, or write * or + where the exact count does not matter",
        )


_COUNTS = re.compile(r"\{([0-9]{1,4}),?([0-9]{0,4})\}")


def matcher_accepts(matcher: Matcher, value: str) -> bool:
    """Whether a label value (the empty string for a missing label) passes the matcher."""
    if matcher.is_regex and len(value) <= _REMEMBERED_VALUE:
        found = _regex_accepts(matcher.value, value)
    elif matcher.is_regex:
        found = _compiled(matcher.value).search(value) is not None
    else:
        found = value == matcher.value
    return found != matcher.negated


def _unquote(raw: str, text: str) -> str:
    """The value without its enclosing quotes and with `\\"`, `\\\\`, `\\n` unescaped."""
    quoted = raw.startswith('"')
    body = raw[1:] if quoted else raw
    if quoted and not _closes(body):
        message = f"{_show(text)}: the quote that opens the value is never closed"
        raise MatcherError(message, 'end the value with an unescaped "')
    if quoted:
        body = body[:-1]
    value: list[str] = []
    index = 0
    while index < len(body):
        char = body[index]
        if char == "\\" and index + 1 < len(body):
            following = body[index + 1]
            value.append(_ESCAPES.get(following, "\\" + following))
            index += 2
            continue
        if char == '"':
            message = f"{_show(text)}: the value holds an unescaped double quote"
            raise MatcherError(message, _QUOTE_HINT)
        value.append(char)
        index += 1
    return "".join(value)


def _closes(body: str) -> bool:
    """Whether the last character of a quoted value is a closing quote (not an escaped one)."""
    if not body.endswith('"'):
        return False
    backslashes = len(body) - 1 - len(body[:-1].rstrip("\\"))
    return backslashes % 2 == 0


def _refuse_what_go_refuses(value: str) -> None:
    """The two constructs RE2 takes and Go's regexp (Alertmanager 0.25's) does not:
    `\\C` (any byte) and the `(?<name>…)` group (Go spells it `(?P<name>…)`)."""
    index, in_class = 0, False
    while index < len(value):
        char, following = value[index], value[index + 1 : index + 2]
        if char == "\\" and following == "Q":  # \Q…\E is literal text
            end = value.find("\\E", index + 2)
            index = len(value) if end < 0 else end + 2
        elif char == "\\" and following == "C":
            raise MatcherError(
                f"{_show(value)}: \\C is not in Go's regular expressions", _REGEX_HINT
            )
        elif char == "\\":
            index += 2
        elif in_class:
            in_class = char != "]"
            index += 1
        elif char == "[":
            index += 1 + (value[index + 1 : index + 2] == "^")
            index += value[index : index + 1] == "]"  # a leading ] is literal
            in_class = True
        elif value.startswith("(?<", index) and value[index + 3 : index + 4] not in ("=", "!"):
            message = f"{_show(value)}: Go's regular expressions name a group (?P<name>...)"
            raise MatcherError(message, _REGEX_HINT)
        else:
            index += 1


@lru_cache(maxsize=8192)
def _regex_accepts(pattern: str, value: str) -> bool:
    """A regex verdict on a short label value, remembered: label values repeat (severity,
    env, namespace…) and a search through RE2's Python binding costs ~8 µs, a lookup
    here ~0.3 µs."""
    return _compiled(pattern).search(value) is not None


@lru_cache(maxsize=1024)
def _compiled(value: str) -> Any:
    """The RE2 program of a regex matcher, anchored as Alertmanager anchors it."""
    try:
        return re2.compile(f"^(?:{value})$", _OPTIONS)
    except re2.error as exc:
        reason = _reason(value) or _reason(f"^(?:{value})$") or _text(exc)
        message = f"{_show(value)} is not an RE2 regular expression ({reason})"
        raise MatcherError(message, _REGEX_HINT) from None


def _reason(pattern: str) -> str:
    """RE2's complaint about a pattern, or "" (the value alone is told when it is at
    fault, rather than the anchored form the user never wrote)."""
    try:
        re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        return _text(exc)
    return ""


def _text(exc: Exception) -> str:
    reason = exc.args[0] if exc.args else "invalid"
    return reason.decode(errors="replace") if isinstance(reason, bytes) else str(reason)


def _show(value: str, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
