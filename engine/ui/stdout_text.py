"""What the engine prints never fails on a character stdout's encoding cannot hold.

Python's stdout is strict under a UTF-8 locale such as en_US.UTF-8: printing a lone
surrogate raises. One comes from any value the engine did not decode itself, e.g. an
input given as a byte that is not UTF-8 (`-i name=$'caf\\xe9'`: argv keeps it as
U+DCE9) or a captured JSON string with an unpaired `\\ud800` escape. The run and the
ledger handle such text; only the line showing it would be lost, with a warning.
`tolerate_unencodable` has stdout write it instead:

- a surrogate U+DC80..U+DCFF as the byte it stands for, as Python's own
  `surrogateescape` does: the operator sees the byte they passed;
- any other character the encoding lacks as a backslash escape (`\\ud800`, `\\u2713`
  on an ASCII terminal).
"""

from __future__ import annotations

import codecs
import contextlib
import io
import sys

ERROR_HANDLER = "runbook-escape"
_BYTE_SURROGATES = range(0xDC80, 0xDD00)  # surrogateescape's: U+DC80 + byte - 0x80


def escape_unencodable(error: UnicodeError) -> tuple[bytes, int]:
    """The codec error handler: the bytes to write for `error`'s characters."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    out = bytearray()
    for char in error.object[error.start : error.end]:
        code = ord(char)
        if code in _BYTE_SURROGATES:
            out.append(code - 0xDC00)
        else:
            out += char.encode("ascii", "backslashreplace")
    return bytes(out), error.end


def tolerate_unencodable() -> None:
    """Make stdout write what its encoding cannot hold (see the module's note)."""
    stream = sys.stdout
    if isinstance(stream, io.TextIOWrapper) and stream.errors != ERROR_HANDLER:
        codecs.register_error(ERROR_HANDLER, escape_unencodable)
        with contextlib.suppress(OSError, ValueError):  # closed: nothing will be shown
            stream.reconfigure(errors=ERROR_HANDLER)
