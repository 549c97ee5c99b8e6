"""`runbook import`: a Markdown wiki runbook written as a level-1 playbook (manual
steps: the engine guides a human and executes nothing), checked by the engine's own
checker before it is shown or written."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.core.errors import UsageError
from engine.core.findings import Location
from engine.core.output_file import write_output
from engine.core.regular_file import NotARegularFile, read_regular
from engine.model.textfile import MAX_FILE_BYTES, unicode_finding
from engine.playbook.loader import check_file
from engine.playbook.wiki import ImportedStep, ImportedUndo, WikiRunbook, read_wiki
from engine.steps import manual

__all__ = ["ImportRequest", "ImportedPlaybook", "import_wiki"]

VERSION = "0.1.0"


@dataclass(frozen=True)
class ImportRequest:
    source: str  # the Markdown file
    output: str | None = None  # the playbook file to write; None: only return the text
    force: bool = False  # replace an existing output file
    owner: str = ""  # metadata.owner: who maintains the playbook


@dataclass(frozen=True)
class ImportedPlaybook:
    text: str
    steps: int
    written: str | None


def import_wiki(request: ImportRequest) -> ImportedPlaybook:
    """The playbook `request.source` describes; written to `request.output` when given
    (whole or not at all). UsageError for a file that cannot be imported or an output
    that exists."""
    if request.output is not None and not request.force and os.path.lexists(request.output):
        hint = "choose another file, or add --force to replace it"
        raise UsageError(f"{request.output} already exists", hint)
    if request.output is not None and _same_file(request.source, request.output):
        raise UsageError(f"{request.output} is the page itself", "write the playbook elsewhere")
    markdown = _read_markdown(request.source)
    name = Path(request.source).name
    wiki = read_wiki(request.source, markdown, Path(request.source).stem)
    text = playbook_text(wiki, name, request.owner)
    _check(text, request.output or f"{wiki.name}.yaml", request.source)
    if request.output is not None:
        write_output(Path(request.output), text, request.force, mode=0o644)
    return ImportedPlaybook(text, len(wiki.steps), request.output)


def _same_file(first: str, second: str) -> bool:
    try:
        return os.path.samefile(first, second)
    except OSError:
        return False


def _read_markdown(file: str) -> str:
    try:
        size = os.stat(file).st_size
        data = read_regular(file, MAX_FILE_BYTES + 1)
    except OSError as exc:
        hint = "give the path of a Markdown file" if isinstance(exc, NotARegularFile) else ""
        raise UsageError(f"cannot read: {exc.strerror}", hint, Location(file, 1, 1)) from None
    if max(size, len(data)) > MAX_FILE_BYTES:
        message = f"the file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB"
        raise UsageError(message, "split the runbook into smaller pages", Location(file, 1, 1))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        finding = unicode_finding(file, data, exc)
        raise UsageError(finding.message, finding.hint, finding.location) from None
    return text


def playbook_text(wiki: WikiRunbook, source_name: str, owner: str = "") -> str:
    """The playbook as YAML, with a comment saying where it came from."""
    import yaml

    header = (
        f"# Imported by `runbook import` from {_one_comment_line(source_name)}, a wiki runbook.\n"
        "# Level 1: each step is a manual one the engine shows and records; it runs\n"
        "# nothing. Read each step against the page before the first run.\n"
    )
    body = yaml.dump(
        _document(wiki, owner),
        Dumper=_dumper(),
        sort_keys=False,
        allow_unicode=True,
        width=100,
        default_flow_style=False,
    )
    return header + body


# What would end a YAML comment line, or hide in one: C0 and C1 controls (NEL among them),
# the line and paragraph separators, the bidirectional controls.
_LINE_BREAKING = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)


def _one_comment_line(text: str) -> str:
    """`text` with every character that could end or disguise a comment line escaped."""
    return _LINE_BREAKING.sub(lambda found: f"\\u{ord(found.group()):04x}", text)


def _document(wiki: WikiRunbook, owner: str) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": wiki.name, "version": VERSION, "maturity": 1}
    if owner:
        metadata["owner"] = owner
    if wiki.summary:
        metadata["summary"] = wiki.summary
    if wiki.description:
        metadata["description"] = wiki.description
    metadata["tags"] = ["imported"]
    return {
        "apiVersion": "runbook/v1",
        "kind": "Playbook",
        "metadata": metadata,
        "steps": [_step(step) for step in wiki.steps],
    }


def _step(step: ImportedStep) -> dict[str, Any]:
    body: dict[str, Any] = {"id": step.id, "title": step.title, **_manual(step)}
    if step.undo is not None:
        body["undo"] = _manual(step.undo)
    return body


def _manual(part: ImportedStep | ImportedUndo) -> dict[str, dict[str, str]]:
    return manual.block(part.instructions, part.expect)


def _dumper() -> Any:
    """A YAML dumper that writes text of several lines as a literal block (`|`), and
    quotes a one-line text unless it plainly reads as text in YAML 1.1 and 1.2 alike."""
    import yaml

    class Dumper(yaml.SafeDumper):
        def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
            super().increase_indent(flow, False)  # list items indented under their key

    def text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        if "\n" in value:
            return dumper.represent_scalar("tag:yaml.org,2002:str", value + "\n", style="|")
        style = None if _plainly_text(value) else '"'
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, text)
    return Dumper


_WORDS_READ_AS_VALUES = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null"})


def _plainly_text(value: str) -> bool:
    return bool(value) and value[0].isalpha() and value.lower() not in _WORDS_READ_AS_VALUES


def _check(text: str, file: str, source: str) -> None:
    """Refuse a playbook the engine's checker refuses (a page too large for one): the
    page's file, what the checker said of the playbook."""
    report = check_file(file, text)
    if not report.ok():
        problems = "; ".join(f.render() for f in report.errors)
        message = f"the playbook made from this page does not pass the checks: {problems}"
        hint = "split the page into smaller runbooks, or leave out what the checker names"
        raise UsageError(message, hint, Location(source, 1, 1))
