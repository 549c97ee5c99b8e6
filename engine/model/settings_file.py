"""Settings files (`runbook serve --config`, the maturity policy): YAML read into a
typed struct, every error at its `file:line:col`."""

from __future__ import annotations

import re
from typing import TypeVar

import msgspec

from engine.core.errors import InvalidPlaybook, UsageError
from engine.model.yamlsource import Source, load_source

_T = TypeVar("_T")
# Where msgspec says a wrong value is: "… - at `$.guards.max_runs[0]`".
_AT = re.compile(r" - at `\$((?:\.[A-Za-z_][\w]*|\[\d+\])*)`\Z")


def load_settings(file: str, kind: type[_T], hint: str) -> tuple[_T, Source]:
    """The settings in `file` as a `kind` (an empty file is all defaults), with the source
    for further checks; UsageError (exit 2) at the wrong value's `file:line:col`, with
    `hint`."""
    try:
        source = load_source(file)
    except InvalidPlaybook as exc:
        first = exc.findings[0]
        raise UsageError(first.message, first.hint, first.location) from None
    try:
        return msgspec.convert(source.data or {}, kind), source
    except msgspec.ValidationError as exc:
        message, path = split_error(str(exc))
        raise UsageError(
            f"{message} (at {'.'.join(map(str, path)) or 'the top'})", hint, source.at(path)
        ) from None


def split_error(error: str) -> tuple[str, tuple[str | int, ...]]:
    """msgspec's message without its `- at $.path`, and that path as keys and indexes."""
    match = _AT.search(error)
    if match is None:
        return error, ()
    parts = re.findall(r"\.([A-Za-z_]\w*)|\[(\d+)\]", match.group(1))
    path = tuple(name if name else int(index) for name, index in parts)
    return error[: match.start()], path
