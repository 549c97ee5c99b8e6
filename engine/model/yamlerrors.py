"""Text that is not YAML (or not UTF-8) as a finding at the position that explains it."""

from __future__ import annotations

import re

import yaml

from engine.core.findings import Finding, Location

_ALIAS = re.compile(r"[*&]([^\s,\[\]{}]+)")
_TAB_HINT = "YAML forbids tabs for indentation: replace the tab with spaces"
_DEFAULT_HINT = "check indentation and quoting near this position"
# (words in the problem or its context, hint); the first match wins.
_HINTS = (
    ("tab", _TAB_HINT),
    ("'\\t'", _TAB_HINT),  # the pure-Python parser's wording
    ("expected '-' indicator", "line this up with the lines above it: indentation is structure"),
    ("expected <block end>", "line this up with the lines above it: indentation is structure"),
    ("quoted scalar", "close the quote that starts here"),
    ("flow mapping", "close the '{' that starts here with '}'"),
    ("flow sequence", "close the '[' that starts here with ']'"),
    ("another document", "a playbook is one YAML document: remove the extra '---' part"),
    ("undefined alias", "define the anchor (&name) before the alias (*name) that uses it"),
    ("duplicate anchor", "give each anchor (&name) its own name"),
    ("mapping values are not allowed", "quote a value that contains ': '"),
    ("cannot start any token", "quote the value: YAML reserves @, ` and % at its start"),
)
_PLAIN_WORDS = {
    "a quoted scalar": "a quoted string",
    "a flow mapping": "a '{' mapping",
    "a flow sequence": "a '[' list",
}
# Contexts that add words but no information.
_VAGUE_CONTEXTS = frozenset({"while scanning for the next token"})


def syntax_finding(file: str, text: str, exc: yaml.MarkedYAMLError) -> Finding:
    """A YAML syntax error at its position, or at the construct left open at the end."""
    unclosed = _unclosed(text, exc)
    mark = exc.context_mark if unclosed else (exc.problem_mark or exc.context_mark)
    location = _mark_location(file, mark)
    words = f"{exc.problem or ''} {exc.context or ''}"
    hint = next((hint for key, hint in _HINTS if key in words), _DEFAULT_HINT)
    if _tab_indented(text, exc.problem_mark):  # libyaml's words do not say "tab"
        hint = _TAB_HINT
    if unclosed and exc.context:
        what = exc.context.removeprefix("while scanning ").removeprefix("while parsing ")
        what = _PLAIN_WORDS.get(what, what)
        return Finding(location, "", f"YAML syntax error: {what} that is never closed", hint)
    return Finding(location, "", f"YAML syntax error: {_describe(exc, text)}", hint)


def _tab_indented(text: str, mark: yaml.Mark | None) -> bool:
    """Whether the line of the error has a tab in its indentation (or the error is at
    a tab), the usual cause of "found character that cannot start any token"."""
    if mark is None:
        return False
    lines = text.split("\n")
    line = lines[mark.line] if mark.line < len(lines) else ""
    indentation = line[: len(line) - len(line.lstrip(" \t"))]
    return "\t" in indentation or line[mark.column : mark.column + 1] == "\t"


def reader_finding(file: str, text: str, exc: yaml.reader.ReaderError) -> Finding:
    """A character YAML does not accept (control characters, NUL)."""
    code = ord(exc.character) if isinstance(exc.character, str) else int(exc.character)
    message = f"character U+{code:04X} is not allowed in YAML ({exc.reason})"
    location = index_location(file, text, exc.position)
    return Finding(location, "", message, "remove it, or write it as an escape in a quoted string")


def index_location(file: str, text: str, index: int) -> Location:
    index = max(0, min(index, len(text)))
    line = text.count("\n", 0, index) + 1
    return Location(file, line, index - (text.rfind("\n", 0, index) + 1) + 1)


def _unclosed(text: str, exc: yaml.MarkedYAMLError) -> bool:
    """The parser hit the end of the text inside a construct that started earlier."""
    mark, opened = exc.problem_mark, exc.context_mark
    if mark is None or opened is None:
        return False
    last_line = text.rstrip().count("\n")  # 0-based, like marks
    return mark.line > last_line or "end of stream" in (exc.problem or "")


def _describe(exc: yaml.MarkedYAMLError, text: str) -> str:
    problem = exc.problem or "syntax error"
    if problem == "found undefined alias" and exc.problem_mark is not None:
        problem += f" {_name_at(text, exc.problem_mark.index)!r}"  # libyaml omits the name
    if problem == "second occurrence" and exc.problem_mark and exc.context_mark:
        name = _name_at(text, exc.problem_mark.index)
        return f"found duplicate anchor {name!r} (first at line {exc.context_mark.line + 1})"
    context = exc.context
    if not context or context in _VAGUE_CONTEXTS:
        return problem
    if problem.startswith("but "):
        return f"{context}, {problem}"
    return f"{problem} {context}"


def _name_at(text: str, index: int) -> str:
    """The name of the alias (*name) or anchor (&name) at `index`."""
    match = _ALIAS.match(text, index)
    return match.group(1) if match else "?"


def _mark_location(file: str, mark: yaml.Mark | None) -> Location:
    if mark is None:
        return Location(file, 1, 1)
    return Location(file, mark.line + 1, mark.column + 1)
