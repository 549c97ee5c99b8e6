"""Text from outside the engine is shown as data, never as terminal commands.

A step's output, a captured value, an input, an SLI detail or an operator name can hold
escape sequences: ESC (CSI, OSC) sequences that move the cursor, clear the screen, set
the window title or write a hyperlink; a carriage return that overwrites the line
already shown; C1 controls that some terminals obey like ESC; bidirectional overrides
that display text in another order than it runs. Any of them could make a terminal
show `outcome: completed` for a run that failed. `printable` replaces each such
character with a visible escape (`\\x1b`, `\\r`, `\\u202e`) before text reaches a
terminal: the operator sees what the text held, and the terminal obeys nothing.
"""

from __future__ import annotations

import click

_KEPT = {0x09, 0x0A}  # tab and newline: layout the engine itself relies on
_C0 = [code for code in range(0x20) if code not in _KEPT] + [0x7F]
_C1 = range(0x80, 0xA0)
_BIDI = [0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
# A byte argv or a pipe held that is not UTF-8 arrives as U+DC80+byte (surrogateescape)
# and is written as that byte: 0x80..0x9F are the C1 controls as raw bytes.
_RAW_C1 = range(0xDC80, 0xDCA0)

_TABLE: dict[int, str] = {
    **{code: f"\\x{code:02x}" for code in _C0},
    0x0D: "\\r",
    **{code: f"\\u{code:04x}" for code in (*_C1, *_BIDI)},
    **{code: f"\\x{code - 0xDC00:02x}" for code in _RAW_C1},
}
_ONE_LINE_TABLE = {**_TABLE, 0x0A: "\\n"}


def printable(text: str) -> str:
    """`text` with every character a terminal would obey replaced by a visible escape.

    Tabs and newlines are kept: see `one_line` for text that must stay on its line.
    """
    return text.translate(_TABLE)


def printable_line(text: str) -> str:
    """`printable(text)` with newlines escaped too: the text cannot start a line of its own."""
    return text.translate(_ONE_LINE_TABLE)


def say(text: str) -> None:
    """Print a command's report on stdout, as `printable` text."""

    click.echo(printable(text))
