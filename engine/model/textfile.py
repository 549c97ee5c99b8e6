"""Reading a playbook file: bounded in size, UTF-8 only. Light on purpose: `runbook run`
reads every playbook through it, also when the compiled cache spares it the YAML."""

from __future__ import annotations

import os

from engine.core.errors import InvalidPlaybook
from engine.core.findings import Finding, Location
from engine.core.regular_file import NotARegularFile, read_regular

__all__ = ["MAX_FILE_BYTES", "check_size", "read_bounded", "text_size", "unicode_finding"]

MAX_FILE_BYTES = 1024 * 1024
_NOT_REGULAR_HINT = "give the path of a file: the engine reads no pipes or devices"
_MIB = 1024 * 1024


def read_bounded(file: str) -> str:
    """The text of `file`, refused when too large or not UTF-8."""
    try:
        check_size(file, os.stat(file).st_size)
        data = read_regular(file, MAX_FILE_BYTES)
    except OSError as exc:
        hint = _NOT_REGULAR_HINT if isinstance(exc, NotARegularFile) else ""
        finding = Finding(Location(file, 1, 1), "", f"cannot read: {exc.strerror}", hint)
        raise InvalidPlaybook(findings=[finding]) from None
    check_size(file, len(data), exact=False)  # grew, or not a regular file
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidPlaybook(findings=[unicode_finding(file, data, exc)]) from None


def check_size(file: str, size: int, exact: bool = True) -> None:
    """Refuse `size` bytes (a lower bound when not `exact`) above the limit."""
    if size <= MAX_FILE_BYTES:
        return
    limit = f"the {MAX_FILE_BYTES // _MIB} MiB limit"
    measured = f"is {size / _MIB:.1f} MiB" if exact else "is"
    message = f"the file {measured}, larger than {limit}"
    hint = "a playbook is a few KiB: split it, or keep large data in files it reads"
    raise InvalidPlaybook(findings=[Finding(Location(file, 1, 1), "", message, hint)])


def text_size(text: str) -> int:
    """UTF-8 size of `text`, computed only when it might matter."""
    if len(text) * 4 <= MAX_FILE_BYTES:
        return len(text)
    return len(text.encode("utf-8", "surrogatepass"))


def unicode_finding(file: str, data: bytes, exc: UnicodeDecodeError) -> Finding:
    """The first byte that is not UTF-8, at its line and column."""
    line = data.count(b"\n", 0, exc.start) + 1
    line_start = data.rfind(b"\n", 0, exc.start) + 1
    col = len(data[line_start : exc.start].decode("utf-8", "replace")) + 1
    message = f"not UTF-8 text: byte 0x{data[exc.start]:02x} cannot be decoded ({exc.reason})"
    return Finding(Location(file, line, col), "", message, "save the file as UTF-8")
