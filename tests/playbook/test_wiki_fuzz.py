"""Any page, however odd, is either refused with a UsageError or gives a playbook the
engine's own checker passes, whose steps render back to the page's words: Markdown
pieces, YAML look-alikes, template syntax, control characters and stray fences mixed at
random (hypothesis)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.core.errors import UsageError
from engine.modes.wiki_import import playbook_text
from engine.playbook.loader import check_file
from engine.playbook.wiki import read_wiki
from engine.templating.render import TemplateRenderer

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PIECES = [
    "# Title",
    "## Step",
    "### Deeper",
    "## Rollback",
    "## Overview",
    "## Steps",
    "Setext",
    "---",
    "===",
    "1. item",
    "- item",
    "   - nested",
    "```",
    "```console",
    "$ ls",
    "out",
    "    indented",
    "Expected:",
    "Expected: ok",
    "Verify that it runs",
    "> Expected: q",
    "{{ .Values.x }}",
    "{%",
    "%}",
    "}}",
    "{#",
    "{{{",
    "${#X}",
    "\tTab",
    "\x0b",
    "\u2028",
    "\x85",
    "\x00",
    "\x1b[2J",
    "\u202e",
    "yes",
    "1:30",
    "0o17",
    "~",
    "null",
    "'",
    '"',
    "a: b",
    "x #c",
    "- Expected: b",
    "| a | b |",
    "|---|---|",
    "<!-- c -->",
    "\\",
    "",
]
LINES = st.lists(st.sampled_from(PIECES) | st.text(max_size=12), min_size=1, max_size=30)


@FUZZ
@given(LINES)
def test_any_page_is_refused_or_gives_a_playbook_that_passes(lines: list[str]) -> None:
    text = "\n".join(lines)
    try:
        wiki = read_wiki("page.md", text, "page")
    except UsageError:
        return
    report = check_file("page.yaml", playbook_text(wiki, "page.md", owner="tests"))
    assert report.ok(strict=True), [f.render() for f in report.findings]
    assert report.playbook is not None
    render = TemplateRenderer({}).text
    for imported, step in zip(wiki.steps, report.playbook.steps, strict=True):
        assert step.id == imported.id
        for template in (step.title, step.action.spec.instructions, step.action.spec.expect):
            assert render(template) == _unescaped(template)


def _unescaped(template: str) -> str:
    return template.replace("{{ '{{' }}", "{{").replace("{{ '{%' }}", "{%")
