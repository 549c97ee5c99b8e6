"""`runbook postmortem ID [--format md|html] [-o FILE]`: the draft, printed or written."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import msgspec
from msgspec import Struct

from engine.core.errors import UsageError
from engine.core.regular_file import special_kind
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
    write_report(Path(request.output), text, request.force)
    return request.output


def check_target(target: Path, force: bool, option: str = "--force") -> None:
    """Refuse, before anything runs, a report file that exists (without `force`, which
    the command line's `option` gives), or is in a folder that is not there or cannot be
    written: a drill is not run for a report it could not write."""
    refuse_special(target)
    if not force and (target.exists() or target.is_symlink()):
        raise UsageError(f"{target} already exists", f"add {option} to replace it")
    hint = "name a file in a folder you can write"
    folder = target.parent
    if not folder.is_dir():
        raise UsageError(f"cannot write {target}: there is no folder {folder}", hint)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write {target}: the folder {folder} is not writable", hint)


def write_drill_html(drill_id: str, target: Path, force: bool, option: str) -> None:
    """The drill's report as HTML, its chart with the detection, the remediation and the
    revert on one time axis."""
    write_report(target, render(build_story(drill_id), "html"), force, option)


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


def refuse_special(target: Path) -> None:
    """UsageError for a target that is a device, a pipe or a folder (also through a link,
    as /dev/stdout): renamed over, its link would be replaced, not written to."""
    kind = special_kind(target)
    if kind is not None:
        raise UsageError(
            f"cannot write {target}: it is {kind}, not a file",
            "name a file, or leave out -o to print it",
        )


def write_report(target: Path, text: str, force: bool, option: str = "--force") -> None:
    """`text` into `target` in one piece, owner-only (0600): a file beside it, then
    renamed over it (with `force`) or linked (without: an existing file is never replaced)."""
    refuse_special(target)
    try:
        descriptor, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    except OSError as exc:
        raise UsageError(
            f"cannot write {target}: {exc.strerror}", "name a file in a folder you can write"
        ) from None
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        if force:
            os.replace(temporary, target)
        else:
            os.link(temporary, target)
    except FileExistsError:
        raise UsageError(f"{target} already exists", f"add {option} to replace it") from None
    except OSError as exc:
        raise UsageError(f"cannot write {target}: {exc.strerror}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
