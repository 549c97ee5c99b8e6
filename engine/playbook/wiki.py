"""A Markdown wiki runbook read as the parts of a level-1 playbook: its title, what
describes it, its steps (instructions, expected result, the rollback to ask for).

The Markdown is parsed by markdown-it (CommonMark); the text of each part is cut from
the source lines the parser maps its blocks to, so the instructions keep the author's
Markdown. Fenced terminal sessions lose their prompts (their output becomes `#`
comments), lines such as "Expected: …" become a step's expected result, and sections
such as "Overview" or "Rollback" are not steps (`describing` and `ROLLBACK` below)."""

from __future__ import annotations

import bisect
import re
import textwrap
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from markdown_it import MarkdownIt
from markdown_it.token import Token

from engine.core.errors import UsageError
from engine.core.findings import Location

__all__ = ["ImportedStep", "ImportedUndo", "WikiRunbook", "read_wiki"]

MAX_ID = 48
MAX_NAME = 63
# Sections that describe the runbook rather than ask for an action: their text goes to
# the playbook's description. A heading matches when it is one of these, perhaps followed
# by a qualifier (`Escalation path`, `Prerequisites (access)`): `Contact the DB team` is a
# step.
DESCRIBING = re.compile(
    r"(?:overview|summary|description|about|background|context|introduction|intro|purpose"
    r"|scope|pre-?requisites?|prereqs?|requirements|before you (?:begin|start)|contacts?"
    r"|owners?|ownership|escalations?|who to (?:contact|call|page)|references?|see also"
    r"|related(?: \w+)?|links|further reading|impact|symptoms?|notes?|glossary|faq)"
    # a qualifier
    r"(?:\s+(?:and|&)\s+.*|\s*\(.*\)|\s+(?:path|policy|plan|list|information|info|details))?"
)
# A section saying how to undo what the steps did (not `Roll back the deployment`).
ROLLBACK = re.compile(
    r"(?:how to )?(?:roll ?back|rolling back|revert|reverting|undo|back ?out)"
    r"(?:\s+(?:plan|procedure|steps|instructions)|\s+if\b.*|\s*\(.*\))?"
)
# A section that only holds the steps: the items of its list are the steps.
HOLDING_STEPS = re.compile(
    r"(?:(?:resolution|remediation|mitigation|recovery|response|fix|how to fix|solution"
    r"|runbook)(?:\s+(?:steps|procedure))?|(?:steps|procedure|instructions|actions)"
    r"(?:\s+to\s+.*)?)"
)
# Lines that give the expected result (label, then the text).
EXPECT_LINE = re.compile(
    r"^(?:[*_]{1,2})?(?:(?P<label>expected(?: (?:result|output|outcome))?|expect|result)"
    r"\s*:(?:[*_]{1,2})?|(?P<phrase>expect\b|you should (?:now )?see\b|verify that\b))",
    re.IGNORECASE,
)
# A shell prompt at the start of a line of a terminal session: `$ `, `user@host:~$ `.
PROMPT = re.compile(r"^(?P<indent>\s*)(?:[\w.-]+@[\w.-]+(?::[^\s\$#]*)?[\$#]|\$)(?: |\Z)")
SESSION_LANGUAGES = frozenset({"console", "shell-session", "sh-session", "shellsession"})
SHELL_LANGUAGES = frozenset({"", "sh", "bash", "shell", "zsh"})
STEP_NUMBER = re.compile(r"^(step\s*)?\d+\s*[.:)-]?\s+", re.IGNORECASE)
LIST_MARKER = re.compile(r"^(\s*)(?:[-*+]|\d{1,9}[.)])(\s+|\Z)")
# Blocks that make a section a step rather than an introduction.
ACTIONS = frozenset({"fence", "code_block", "ordered_list_open", "bullet_list_open"})
TEMPLATE_OPENING = re.compile(r"\{\{|\{%")
NO_STEP_HINT = (
    "give each step a heading (`## Restart the service`), or write the steps as a numbered list"
)


@dataclass(frozen=True)
class ImportedUndo:
    instructions: str
    expect: str


@dataclass(frozen=True)
class ImportedStep:
    id: str
    title: str
    instructions: str
    expect: str
    undo: ImportedUndo | None = None


@dataclass(frozen=True)
class WikiRunbook:
    name: str
    summary: str
    description: str
    steps: tuple[ImportedStep, ...]


def template_literal(text: str) -> str:
    """`text` as a template that renders to itself: each `{{` and `{%` written as the
    Jinja expression of that text (the format's `{{ '{{' }}`)."""
    return TEMPLATE_OPENING.sub(lambda found: "{{ '" + found.group() + "' }}", text)


def slug(text: str, limit: int) -> str:
    """Lower-case ASCII letters and digits joined by dashes, at most `limit` long, cut at
    a dash where it can be."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    if len(words) <= limit:
        return words
    cut = words[:limit]
    return (cut.rsplit("-", 1)[0] if "-" in cut else cut).strip("-")


@dataclass
class _Section:
    """A heading and the lines under it, its subsections included: [body, end)."""

    level: int
    title: str
    plain: str
    heading_line: int
    body: int
    end: int
    children: list[_Section] = field(default_factory=list)

    @property
    def kind(self) -> str:
        words = STEP_NUMBER.sub("", self.plain.strip().lower()).strip(" :")
        if ROLLBACK.fullmatch(words):
            return "rollback"
        if DESCRIBING.fullmatch(words):
            return "describing"
        return "holding" if HOLDING_STEPS.fullmatch(words) else "step"

    @property
    def own_end(self) -> int:
        return self.children[0].heading_line if self.children else self.end


@dataclass
class _Draft:
    title: str
    plain: str
    ranges: list[tuple[int, int]]
    undo_ranges: list[tuple[int, int]] = field(default_factory=list)
    list_item: bool = False


class _Document:
    """The source lines and what the parser says of them."""

    def __init__(self, file: str, text: str) -> None:
        self.file = file
        # Line ends as CommonMark reads them, and U+0000 as U+FFFD (its rule too).
        text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
        text = text.replace("\x00", "\ufffd")
        lines = [line.expandtabs(4).rstrip() for line in text.split("\n")]
        self.lines = _without_front_matter(lines)
        parser = MarkdownIt("commonmark").enable("table")
        self.tokens = parser.parse("\n".join(self.lines))
        # The blocks at the top of the page (not inside a list or a quote): their
        # first lines, and their places in `tokens`.
        top = [(t.map[0], at) for at, t in enumerate(self.tokens) if t.level == 0 and t.map]
        self.top_starts = [line for line, _ in top]
        self.top_places = [at for _, at in top]
        self.dropped: set[int] = set()
        self.replaced: dict[int, str] = {}
        self.expected: dict[int, str] = {}
        self._read_fences()
        self._read_expectations()
        self._drop_comments()

    # What the blocks become -----------------------------------------------------------

    def _read_fences(self) -> None:
        for token in self.tokens:
            if token.type == "fence" and token.map:
                self._read_fence(token, *token.map)
            elif token.type == "code_block" and token.map:
                self._fence_indented(*token.map)

    def _fence_indented(self, start: int, end: int) -> None:
        """An indented code block, fenced: its lines keep their place, four columns left."""
        while end > start + 1 and not self.lines[end - 1].strip():
            end -= 1
        if self.lines[start].lstrip().startswith(">"):
            return  # inside a quote: left as written
        written = [self.lines[n] for n in range(start, end)]
        indent = min((_indent(line) for line in written if line.strip()), key=len)
        outer = indent[: max(len(indent) - 4, 0)]
        for number, line in enumerate(written, start=start):
            self.replaced[number] = outer + line[len(indent) :] if line.strip() else ""
        language = ""
        if PROMPT.match(self.lines[start][len(indent) :]):
            self._strip_prompts(range(start, end), self.replaced)
            language = "sh"
        self.replaced[start] = f"{outer}```{language}\n{self.replaced[start]}"
        self.replaced[end - 1] = f"{self.replaced[end - 1]}\n{outer}```"

    def _read_fence(self, token: Token, start: int, end: int) -> None:
        language = token.info.strip().split(" ")[0].lower() if token.info.strip() else ""
        closed = end - start >= 2 and self.lines[end - 1].strip().startswith(token.markup)
        content = range(start + 1, end - 1 if closed else end)
        first = next((self.lines[n] for n in content if self.lines[n].strip()), "")
        session = language in SESSION_LANGUAGES
        if not self.lines[start].lstrip().startswith(token.markup):
            return  # inside a quote: left as written
        if session or (language in SHELL_LANGUAGES and PROMPT.match(first)):
            opening = self.lines[start]
            self.replaced[start] = opening[: opening.index(token.markup) + len(token.markup)] + "sh"
            self._strip_prompts(content)

    def _strip_prompts(self, content: range, lines: dict[int, str] | None = None) -> None:
        """Commands lose their prompt; the output shown after them becomes comments."""
        continued = False
        for number in content:
            line = (lines or {}).get(number, self.lines[number])
            prompt = PROMPT.match(line)
            if prompt and prompt.group().strip():
                line = prompt.group("indent") + line[prompt.end() :]
            elif line.strip() and not continued:
                line = f"{_indent(line)}# {line.lstrip()}"
            continued = line.endswith("\\")
            self.replaced[number] = line

    def _read_expectations(self) -> None:
        tokens = self.tokens
        for at, token in enumerate(tokens):
            if token.type != "inline" or tokens[at - 1].type != "paragraph_open":
                continue
            start = token.map[0] if token.map else 0
            contents = [line.strip() for line in token.content.split("\n")]
            for offset, content in enumerate(contents):
                found = EXPECT_LINE.match(content)
                if found:
                    self._expect_from(start + offset, at, found, contents[offset:])
                    break

    def _expect_from(self, line: int, at: int, found: re.Match[str], texts: list[str]) -> None:
        """The paragraph's lines from `line` on (its inline token at `at`) are the
        expected result, without their label; a label alone (`Expected output:`)
        announces the code block after it."""
        token = self.tokens[at]
        end = token.map[1] if token.map else line + 1
        rest = EXPECT_LINE.sub("", texts[0], count=1).strip(" *_")
        if found.group("label") or rest == ":":  # `You should see:` announces like a label
            texts[0] = rest.lstrip(":")
        self.dropped.update(range(line, end))
        following = self._following_code(at)
        if not texts[0] and len(texts) == 1 and following is not None and following.map:
            texts = textwrap.dedent(following.content).rstrip("\n").split("\n")
            self.dropped.update(range(*following.map))
        text = "\n".join(t for t in texts if t)
        if text:
            self.expected[line] = text

    def _following_code(self, at: int) -> Token | None:
        """The code block right after the paragraph whose inline token is at `at`."""
        after = self.tokens[at + 2] if at + 2 < len(self.tokens) else None
        return after if after is not None and after.type in ("fence", "code_block") else None

    def _drop_comments(self) -> None:
        for token in self.tokens:
            text = token.content.strip()
            is_comment = text.startswith("<!--") and text.endswith("-->")
            if token.type == "html_block" and token.map and is_comment:
                self.dropped.update(range(*token.map))

    # Text of line ranges --------------------------------------------------------------

    def text(self, ranges: Iterable[tuple[int, int]], keep_expected: bool = False) -> str:
        kept = [
            self.replaced.get(n, self.lines[n])
            for start, end in ranges
            for n in range(start, end)
            if keep_expected or n not in self.dropped
        ]
        return _tidy(kept)

    def raw(self, ranges: Iterable[tuple[int, int]]) -> str:
        return _tidy([self.lines[n] for start, end in ranges for n in range(start, end)])

    def expectations(self, ranges: Iterable[tuple[int, int]]) -> str:
        found = [
            self.expected[n]
            for start, end in ranges
            for n in range(start, end)
            if n in self.expected
        ]
        return "\n".join(found)

    def location(self, line: int = 0) -> Location:
        return Location(self.file, line + 1, 1)

    # Sections -----------------------------------------------------------------------

    def sections(self) -> list[_Section]:
        """Every heading, in order, each with the lines under it."""
        found: list[_Section] = []
        for at, token in enumerate(self.tokens):
            if token.type == "heading_open" and token.map and token.level == 0:
                inline = self.tokens[at + 1]
                heading, body = token.map
                level, end = int(token.tag[1:]), len(self.lines)
                found.append(_Section(level, inline.content, _plain(inline), heading, body, end))
        for at, section in enumerate(found):
            later = (s.heading_line for s in found[at + 1 :] if s.level <= section.level)
            section.end = next(later, len(self.lines))
        return found

    def top_blocks(self, start: int, end: int) -> list[int]:
        """The places in `tokens` of the top blocks that start in lines [start, end)."""
        first = bisect.bisect_left(self.top_starts, start)
        last = bisect.bisect_left(self.top_starts, end)
        return self.top_places[first:last]

    def top_lists(self, start: int, end: int) -> list[int]:
        lists = ("ordered_list_open", "bullet_list_open")
        return [at for at in self.top_blocks(start, end) if self.tokens[at].type in lists]

    def items(self, at: int) -> list[tuple[int, int]]:
        """The lines of each item of the list that opens at `tokens[at]`."""
        ranges = []
        for token in self.tokens[at + 1 :]:
            if token.type in ("ordered_list_close", "bullet_list_close") and token.level == 0:
                break
            if token.type == "list_item_open" and token.level == 1 and token.map:
                ranges.append((token.map[0], token.map[1]))
        return ranges


def _without_front_matter(lines: list[str]) -> list[str]:
    """The lines with a leading YAML front matter block (`---` … `---`) blanked, so that
    Markdown does not read its last line as a heading; the line numbers stay."""
    if not lines or lines[0] != "---":
        return lines
    end = next((n for n in range(1, len(lines)) if lines[n] in ("---", "...")), None)
    if end is None:
        return lines
    return [""] * (end + 1) + lines[end + 1 :]


def _plain(inline: Token) -> str:
    """The words of an inline token, without its Markdown."""
    parts = [c.content for c in inline.children or () if c.type in ("text", "code_inline")]
    return "".join(parts) if parts else inline.content


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _tidy(lines: Sequence[str]) -> str:
    """The lines without blank ones at either end, nor more than one blank in a row."""
    kept: list[str] = []
    for line in lines:
        if line.strip() or (kept and kept[-1].strip()):
            kept.append(line)
    return "\n".join(kept).strip("\n")


def _nest(sections: list[_Section]) -> list[_Section]:
    """The sections at the top of `sections`, each holding its subsections."""
    tops: list[_Section] = []
    stack: list[_Section] = []
    for section in sections:
        while stack and stack[-1].level >= section.level:
            stack.pop()
        (stack[-1].children if stack else tops).append(section)
        stack.append(section)
    return tops


def read_wiki(file: str, text: str, fallback_name: str) -> WikiRunbook:
    """The parts of the playbook the Markdown `text` of `file` describes. UsageError when
    it holds nothing to make a step from."""
    document = _Document(file, text)
    if not any(line.strip() for line in document.lines):
        raise UsageError(
            "the file is empty", "give a Markdown runbook", location=document.location()
        )
    sections = document.sections()
    title = _title(document, sections)
    rest = [s for s in sections if s is not title]
    preamble = (title.body if title else 0, rest[0].heading_line if rest else len(document.lines))
    reader = _Reader(document)
    for section in _nest(rest):
        reader.read_section(section)
    if not reader.drafts:
        reader.read_list(preamble)
    else:
        reader.described.insert(0, preamble)
    if not reader.drafts:
        message = "found no step: no section heading with instructions, and no list of steps"
        raise UsageError(message, NO_STEP_HINT, location=document.location())
    summary = title.plain.strip() if title else ""
    name = slug(summary, MAX_NAME) or slug(fallback_name, MAX_NAME) or "imported-runbook"
    return WikiRunbook(name, summary, reader.description(), tuple(reader.steps()))


def _title(document: _Document, sections: list[_Section]) -> _Section | None:
    """The runbook's title: the first heading, when it is the only one of level 1, or
    when it opens the page and only text (no list, no code) follows it before the next
    heading (`# Restart the API`, then `# Drain traffic`, `# Restart`…)."""
    if not sections or sections[0].level != 1:
        return None
    first = sections[0]
    if sum(s.level == 1 for s in sections) == 1:
        return first
    opens = not any(line.strip() for line in document.lines[: first.heading_line])
    following = sections[1].heading_line if len(sections) > 1 else len(document.lines)
    blocks = document.top_blocks(first.body, following)
    acts = any(document.tokens[at].type in ACTIONS for at in blocks)
    return first if opens and not acts else None


class _Reader:
    """Sections and lists turned into drafts of steps, descriptions and the rollback."""

    def __init__(self, document: _Document) -> None:
        self.document = document
        self.drafts: list[_Draft] = []
        self.described: list[tuple[int, int]] = []
        self.rollback: list[tuple[int, int]] = []

    def read_section(self, section: _Section) -> None:
        kind = section.kind
        if kind == "describing":
            self.described.append((section.heading_line, section.end))
        elif kind == "rollback":
            self.rollback.append((section.body, section.end))
        elif self._holds_steps(section):
            self._read_children(section)
        elif kind == "holding" and not section.children and self._lists_steps(section):
            self.read_list((section.body, section.end))
        else:
            self._read_step(section)

    def _holds_steps(self, section: _Section) -> bool:
        has_steps = any(c.kind in ("step", "holding") for c in section.children)
        return has_steps and self._only_introduces(section)

    def _only_introduces(self, section: _Section) -> bool:
        """A section whose own text holds no list and no code: its subsections are the
        steps (and its text leads into the first of them)."""
        tokens = self.document.tokens
        blocks = self.document.top_blocks(section.body, section.own_end)
        return not any(tokens[at].type in ACTIONS for at in blocks)

    def _lists_steps(self, section: _Section) -> bool:
        return bool(self.document.top_lists(section.body, section.end))

    def _read_children(self, section: _Section) -> None:
        first = len(self.drafts)
        for child in section.children:
            self.read_section(child)
        intro = (section.body, section.own_end)
        if len(self.drafts) > first:
            self.drafts[first].ranges.insert(0, intro)
        else:
            self.described.append((section.heading_line, section.own_end))

    def _read_step(self, section: _Section) -> None:
        ranges: list[tuple[int, int]] = []
        undo: list[tuple[int, int]] = []
        start = section.body
        for child in _descendants(section):
            if child.kind == "rollback" and child.heading_line >= start:
                ranges.append((start, child.heading_line))
                undo.append((child.body, child.end))
                start = child.end
        ranges.append((start, section.end))
        self.drafts.append(_Draft(section.title, section.plain, ranges, undo))

    def read_list(self, within: tuple[int, int]) -> None:
        """The items of the first numbered list in `within` (else of its first list) as
        steps; the rest of `within` describes the runbook."""
        lists = self.document.top_lists(*within)
        if not lists:
            self.described.append(within)
            return
        tokens = self.document.tokens
        ordered = (at for at in lists if tokens[at].type == "ordered_list_open")
        listing = next(ordered, lists[0])
        start, end = tokens[listing].map or within
        for item in self.document.items(listing):
            head = _one_line(LIST_MARKER.sub("", self.document.lines[item[0]]))
            self.drafts.append(_Draft(_shortened(head), head, [item], list_item=True))
        self.described.extend([(within[0], start), (end, within[1])])

    def description(self) -> str:
        return _tidy(self.document.raw(sorted(self.described)).split("\n"))

    def steps(self) -> Iterator[ImportedStep]:
        taken: set[str] = set()
        for number, draft in enumerate(self.drafts, start=1):
            step_id = _unique(slug(STEP_NUMBER.sub("", draft.plain), MAX_ID), number, taken)
            title = _one_line(draft.title).rstrip(":") or f"Step {number}"
            undo_ranges = draft.undo_ranges or (self.rollback if number == 1 else [])
            yield ImportedStep(
                step_id,
                template_literal(title),
                template_literal(_led(self._instructions(draft), title)),
                template_literal(self.document.expectations(draft.ranges)),
                self._undo(undo_ranges),
            )

    def _instructions(self, draft: _Draft) -> str:
        text = self.document.text(draft.ranges)
        if draft.list_item:
            text = _unlisted(text)
        return text

    def _undo(self, ranges: list[tuple[int, int]]) -> ImportedUndo | None:
        text = self.document.text(ranges)
        expect = self.document.expectations(ranges)
        if not text and not expect:
            return None
        return ImportedUndo(
            template_literal(text or "Undo the steps above."), template_literal(expect)
        )


def _descendants(section: _Section) -> Iterator[_Section]:
    for child in section.children:
        yield child
        yield from _descendants(child)


def _unique(candidate: str, number: int, taken: set[str]) -> str:
    base = candidate or f"step-{number}"
    chosen, suffix = base, 2
    while chosen in taken:
        chosen, suffix = f"{base}-{suffix}", suffix + 1
    taken.add(chosen)
    return chosen


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _led(instructions: str, title: str) -> str:
    """The instructions, led by the title when they open with a code block (their first
    line is what `runbook plan` shows), or the title alone when there are none."""
    if not instructions:
        return title
    if not instructions.lstrip().startswith(("```", "~~~")):
        return instructions
    words = STEP_NUMBER.sub("", title) or title
    lead = words if words.endswith((".", ":", "!", "?")) else f"{words}:"
    return f"{lead}\n\n{instructions}"


def _shortened(text: str, limit: int = 72) -> str:
    """`text` cut at a word to at most `limit` characters, marked when cut."""
    if len(text) <= limit:
        return text
    return text[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,.;:") + "…"


def _unlisted(text: str) -> str:
    """A list item's text without its marker, its lines moved left as far as they go
    together."""
    lines = text.split("\n")
    marker = LIST_MARKER.match(lines[0])
    width = marker.end() if marker else 0
    lines[0] = lines[0][width:]
    rest = [line[width:] if line[:width].strip() == "" else line.lstrip() for line in lines[1:]]
    return "\n".join([lines[0], *rest]).strip("\n")
