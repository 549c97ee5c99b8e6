"""Writing a new `metadata.maturity` into a playbook's text and nothing else: the
playbook loader reads the text and says where the value is (the same reading that
validates it, so a file that validates can be edited); that one scalar is replaced in
place, so comments, key order, quoting and flow style stay as written."""

from __future__ import annotations

import re
from typing import Any

from engine.core.errors import UsageError
from engine.core.findings import Location
from engine.model.yamlsource import load_source

# The value where the loader says it starts: a tag (`!!int`) and an anchor (`&level`),
# kept, then the scalar itself, replaced.
_SCALAR = re.compile(r"(?:[!&][^\s,\]}]*[ \t]+)*(?P<value>[^\s,\]}#]+)")
_LINE = re.compile(r".*?(?:\r\n|[\r\n\x85\u2028\u2029]|\Z)", re.DOTALL)


def with_maturity(text: str, file: str, level: int) -> str:
    """`text` with `metadata.maturity` set to `level`, only that value changed."""
    source = load_source(file, text)
    metadata: Any = source.data.get("metadata")
    if not isinstance(metadata, dict) or "maturity" not in metadata:
        raise UsageError(
            "cannot find metadata.maturity in the file",
            "the playbook must declare `maturity:` under `metadata:`",
            Location(file, 1, 1),
        )
    where = source.at(("metadata", "maturity"))
    lines = _lines(text)
    line, column = where.line - 1, where.col - 1
    found = _SCALAR.match(lines[line], column) if line < len(lines) else None
    if found is None:
        raise UsageError(
            "metadata.maturity is not a plain number",
            "write it as `maturity: 2`",
            where,
        )
    start, end = found.span("value")
    lines[line] = lines[line][:start] + str(level) + lines[line][end:]
    return "".join(lines)


def _lines(text: str) -> list[str]:
    """The lines of `text` with their ends, split where YAML counts a line break."""
    return [match.group() for match in _LINE.finditer(text) if match.group()]
