"""`runbook postmortem ID [--format md|html] [-o FILE]`: the draft, printed or written."""

from __future__ import annotations

import os
from pathlib import Path

import msgspec
from msgspec import Struct

from engine.core.output_file import write_output
from engine.modes.postmortem.html import render_html
from engine.modes.postmortem.markdown import render_markdown
from engine.modes.postmortem.sections import Draft, draft
from engine.modes.postmortem.story import Story, build_story, declarations, held_values
from engine.run.context.secrets import declared_scrubber
from engine.templating.redaction import Redactor

FORMATS = ("md", "html")


class PostmortemRequest(Struct, frozen=True):
    story_id: str  # a run id or a drill id (or a unique prefix)
    format: str = "md"
    output: str | None = None  # None: printed
    force: bool = False


def postmortem(request: PostmortemRequest) -> str:
    """The draft's text; written to `request.output` (0600, in one piece) when given,
    and then the text is the path written."""
    text = render(build_story(request.story_id), request.format)
    if request.output is None:
        return text
    write_output(Path(request.output), text, request.force)
    return request.output


def write_drill_html(drill_id: str, target: Path, force: bool, option: str) -> None:
    """The drill's report as HTML, its chart with the detection, the remediation and the
    revert on one time axis."""
    write_output(target, render(build_story(drill_id), "html"), force, option)


def render(story: Story, format: str) -> str:
    """The draft of `story`, scrubbed of every secret its recorded playbooks declare that
    can be read here and of each value an alert gave an input the ledger kept redacted
    (the ledger redacted the runs' own, but an alert's labels and annotations, a note,
    are kept as they came)."""
    redactor, _ = declared_scrubber(declarations(story), os.environ, held_values(story))
    made = scrubbed(draft(story), redactor)
    return render_html(made) if format == "html" else render_markdown(made)


def scrubbed(made: Draft, redactor: Redactor) -> Draft:
    """Every text of the draft (its title, sections, chart labels) with every value the
    redactor knows, in any form, replaced by its mark; before rendering, so that no
    escaping hides a value from it."""
    if not redactor:
        return made
    return msgspec.convert(redactor.redact_data(msgspec.to_builtins(made)), Draft)
