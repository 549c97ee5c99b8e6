"""A postmortem draft as Markdown: each field tagged `_(from the record)_` or
`_(to be written)_`; text from the record escaped, so that a name, a label or a message
reads as written and never as Markdown or HTML."""

from __future__ import annotations

from engine.modes.postmortem.sections import Block, Cell, Draft, Section
from engine.ui.terminal_text import printable_line

FILLED, TO_WRITE = "_(from the record)_", "_(to be written)_"
BY_HUMAN = "_(set by a human)_"  # an incident's time a person set
_SPECIAL = "\\`*_[]<>|&#!"
_URL_SCHEMES = ("http://", "https://")
_LIST_MARKS = ("-", "+", "=")  # what would start a list or underline a heading


def render_markdown(draft: Draft) -> str:
    lines = [
        f"# {escape(draft.title)}",
        "",
        f"> Draft. Each field is marked {FILLED} or {TO_WRITE}; blameless: people are"
        " named as responders, never as a cause.",
    ]
    for section in draft.sections:
        lines += ["", *_section(section)]
    lines += ["", "## SLI chart", ""]
    chart = "in the HTML draft (`--format html`)" if draft.chart else escape(draft.no_chart)
    lines.append(f"- **Chart:** {chart} {FILLED}")
    return "\n".join(lines) + "\n"


def escape(text: str) -> str:
    """`text` as Markdown that shows it as it is (every special character escaped)."""
    flat = " ".join(text.split())
    escaped = "".join("\\" + char if char in _SPECIAL else char for char in flat)
    if escaped.startswith(_LIST_MARKS):
        return "\\" + escaped
    number = len(escaped) - len(escaped.lstrip("0123456789"))
    mark, rest = escaped[number : number + 1], escaped[number + 1 :]
    if number and mark in (".", ")") and rest[:1] in ("", " "):  # `1. ` would start a list
        return f"{escaped[:number]}\\{escaped[number:]}"
    return escaped


def _section(section: Section) -> list[str]:
    lines = [f"## {escape(section.title)}", ""]
    for block in section.blocks:
        lines += _block(block)
    kept = [line for i, line in enumerate(lines) if line or (i and lines[i - 1])]
    return kept[:-1] if kept[-1] == "" else kept


def _mark(block: Block) -> str:
    if block.by_human:
        return BY_HUMAN
    return FILLED if block.filled else TO_WRITE


def _block(block: Block) -> list[str]:
    if block.headers:
        return _table(block)
    if block.items or (block.label and not block.text):
        items = [f"  - {escape(item)}" for item in block.items]
        return [f"- **{escape(block.label)}:** {_mark(block)}", *items]
    return [f"- **{escape(block.label)}:** {escape(block.text)} {_mark(block)}"]


def _table(block: Block) -> list[str]:
    named = f"**{escape(block.label)}** {_mark(block)}" if block.label else _mark(block)
    lines = ["", named, ""]
    lines.append("| " + " | ".join(escape(header) for header in block.headers) + " |")
    lines.append("|" + "---|" * len(block.headers))
    lines += ["| " + " | ".join(_cell(cell) for cell in row) + " |" for row in block.rows]
    return [*lines, ""]


def _cell(cell: Cell) -> str:
    """A cell: its link as an autolink when it is a plain web address, else as code on
    one line (a newline or a control character in a link from the record, an alert's
    source, neither ends the table's row nor reaches a terminal)."""
    if not cell.link:
        return escape(cell.text)
    if cell.link.startswith(_URL_SCHEMES) and all(_url_char(c) for c in cell.link):
        return f"<{cell.link}>"
    shown = printable_line(cell.link).replace("`", "'").replace("|", "\\|")
    return "`" + " ".join(shown.split()) + "`"


def _url_char(char: str) -> bool:
    return char.isprintable() and not char.isspace() and char not in "<>|`"
