"""How the engine marks where it cut a command's output, in one place: the redactor
(engine.run.context.secrets) must know the marks, since a secret may straddle a cut and only part
of it is left beside the mark.

- The recorded output keeps its last characters (`tail_cut`): what follows the mark
  starts in the middle of the output.
- A shown line longer than the limit keeps its first characters (`line_cut`): what
  precedes the mark ends in the middle of the line.
"""

from __future__ import annotations

TAIL_MARK_START = "[… output truncated, last "
TAIL_MARK_END = " characters kept …]\n"  # the text after it starts mid-output
LINE_MARK_START = " […"  # the text before it ends mid-line


def tail_cut(cap: int, kept: str) -> str:
    return f"{TAIL_MARK_START}{cap}{TAIL_MARK_END}{kept}"


def line_cut(head: str, cut: int) -> str:
    return f"{head}{LINE_MARK_START}{cut} characters cut]"


def recorded_cut(output: str) -> tuple[int, str] | None:
    """`(cap, kept)` when `output` is a tail the engine cut (`tail_cut`), else None."""
    head, mark, kept = output.partition(TAIL_MARK_END)
    cap = head.removeprefix(TAIL_MARK_START)
    if not mark or cap == head or not cap.isdigit():
        return None
    return int(cap), kept
