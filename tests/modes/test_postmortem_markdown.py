"""Text from the record in a Markdown draft reads as written: a CommonMark renderer shows
it as it is, never as a list, a heading, a link, emphasis or HTML."""

from __future__ import annotations

import html

import pytest
from markdown_it import MarkdownIt

from engine.modes.postmortem.markdown import escape, render_markdown
from engine.modes.postmortem.sections import Block, Cell, Draft, Section

WRITTEN = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "- not a list",
    "+ nor this",
    "1. nor a numbered list",
    "12) nor this",
    "1.4s is a duration",
    "3)",
    "# not a heading",
    "=== not an underline",
    "*not emphasis* and _nor this_",
    "[not a link](http://example.invalid)",
    "![nor an image](x.png)",
    "`not code`",
    "a | b | c",
    "&amp; stays &amp;",
    "back\\slash",
    "step break_it failed",
]


@pytest.mark.parametrize("text", WRITTEN)
def test_a_commonmark_renderer_shows_the_text_as_written(text: str) -> None:
    rendered = MarkdownIt("commonmark").enable("table").render(f"- **label:** {escape(text)}")

    assert (
        rendered
        == f"<ul>\n<li><strong>label:</strong> {html.escape(text, quote=False)}</li>\n</ul>\n"
    )


@pytest.mark.parametrize("text", WRITTEN)
def test_an_item_of_a_list_is_one_item_as_written(text: str) -> None:
    rendered = MarkdownIt("commonmark").render(f"- {escape(text)}")

    assert rendered == f"<ul>\n<li>{html.escape(text, quote=False)}</li>\n</ul>\n"


@pytest.mark.parametrize("text", WRITTEN)
def test_a_table_cell_is_one_cell_as_written(text: str) -> None:
    table = f"| a | b |\n|---|---|\n| {escape(text)} | x |\n"

    rendered = MarkdownIt("commonmark").enable("table").render(table)

    assert f"<td>{html.escape(text, quote=False)}</td>\n<td>x</td>" in rendered


SOURCES = [
    "http://prometheus.example/graph?g0.expr=up\n# a heading",
    "http://prometheus.example/graph?g0.expr=up\n\n<img src=x onerror=alert(1)>",
    "https://prometheus.example/\r\n- a list\n",
    "http://prometheus.example/\tx",
    "http://prometheus.example/up\n",
    "http://prometheus.example/up\n===\n",
    "http://prometheus.example/\x1b[31mred",
    "javascript:alert(1)//\n# a heading",
]


@pytest.mark.parametrize("source", SOURCES)
def test_an_alerts_source_stays_in_its_cell_of_the_timeline(source: str) -> None:
    row = [Cell("2026-12-07 10:00:00 UTC"), Cell("alert fired"), Cell(source, source)]
    table = Block(True, headers=["time (UTC)", "event", "link"], rows=[row])
    made = Draft("t", [Section("Timeline", [table])], None, "no chart")

    rendered = MarkdownIt("commonmark").enable("table").render(render_markdown(made))

    body = rendered[rendered.index("<tbody>") : rendered.index("</tbody>")]
    assert body.count("<tr>") == 1 and body.count("<td>") == 3, rendered
    assert rendered.count("<h1>") == 1 and "<img" not in rendered and "<li>-" not in rendered
    assert "\x1b" not in rendered
    assert 'href="javascript' not in rendered
