"""Writing a new `metadata.maturity` into a playbook's text and nothing else: ruamel.yaml
reads the text round-trip and says where the value is; that one scalar is replaced in
place, so comments, key order, quoting and flow style stay as written."""

from __future__ import annotations

import re
from typing import Any

from engine.core.errors import UsageError
from engine.core.findings import Location

# The value where ruamel says it starts: a tag (`!!int`) and an anchor (`&level`), kept,
# then the scalar itself, replaced.
_SCALAR = re.compile(r"(?:[!&][^\s,\]}]*[ \t]+)*(?P<value>[^\s,\]}#]+)")


def with_maturity(text: str, file: str, level: int) -> str:
    """`text` with `metadata.maturity` set to `level`, only that value changed."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        data: Any = YAML(typ="rt").load(text)
        metadata = data["metadata"]
        line, column = metadata.lc.value("maturity")
    except (YAMLError, KeyError, TypeError, AttributeError) as exc:
        raise UsageError(
            f"cannot find metadata.maturity in the file ({type(exc).__name__})",
            "the playbook must declare `maturity:` under `metadata:`",
            Location(file, 1, 1),
        ) from None
    lines = text.splitlines(keepends=True)
    found = _SCALAR.match(lines[line], column)
    if found is None:
        raise UsageError(
            "metadata.maturity is not a plain number",
            "write it as `maturity: 2`",
            Location(file, line + 1, column + 1),
        )
    start, end = found.span("value")
    lines[line] = lines[line][:start] + str(level) + lines[line][end:]
    return "".join(lines)
