"""Where each value of a command template lands in the shell script: its quoting.

A command string is a template run by `/bin/sh -c`. The engine never writes a value into
the script: each `{{ }}` becomes a reference to an environment variable holding the value
(`engine.templating.render`). A reference is safe unquoted (written `"${V}"`) and inside double
quotes (`${V}`); anywhere else the shell, or the program the text is for, would read the
value as code or could not read it at all: inside '…' or $'…', a here-document, backquotes,
`${…}`, arithmetic (bash evaluates `a[$(cmd)]` there), `[[ ]]`, or the script of another
interpreter (`sh -c '…'`, `python3 -c`, `eval`, `ssh host …`). Those places are refused.

The script is read with its value slots marked by SLOT (a NUL: no template holds one). A
small tokenizer of POSIX sh quoting (bash's `$'…'`, `[[`, `((` included), not a grammar:
it needs only the quoting of each slot and the words of each simple command, and it must
accept every script a shell accepts. (bashlex, the PyPI bash parser, gives positions but
raises NotImplementedError on valid scripts, e.g. any `case` statement (bashlex#91): a
playbook would be refused for the parser's gaps, and it parses bash, not the /bin/sh that
runs the command.) Results are cached per slotted text: a playbook's commands are read
once, not per step.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from enum import StrEnum
from functools import lru_cache

from msgspec import Struct

SLOT = "\0"


class Place(StrEnum):
    """Where a safe slot stands: how its reference is written."""

    BARE = "bare"  # outside quotes: "${V}", one word, no splitting, no globbing
    DOUBLE = "double"  # inside "…": ${V}


class Unsafe(Struct, frozen=True):
    """A slot no quoting can make safe: where it is, why, and how to write it instead."""

    slot: int  # its index among the script's slots
    offset: int  # in the slotted text
    where: str
    hint: str


class Analysis(Struct, frozen=True):
    places: tuple[Place, ...]  # one per slot (BARE for an unsafe one)
    unsafe: tuple[Unsafe, ...]
    after_options: frozenset[int] = frozenset()  # slots after a `--` word of their command


_QUOTE_HINT = (
    "write the template outside the quotes ('text '{{ x }}' more'); if the quoted text "
    "is a program (awk, sed, sh -c, ssh), hand the value to it as an argument instead "
    "(awk -v v={{ x }} '…v…'; sh -c '…\"$1\"…' sh {{ x }})"
)
_HEREDOC_HINT = (
    "set it in `env:` (NAME: '{{ x }}') and write $NAME in the here-document; if the "
    "body is a program (sh, psql, python), pass the value as that program's argument"
)
_ARITHMETIC_HINT = (
    "bash evaluates a value there as an expression, and a[$(cmd)] runs cmd: compute it "
    "in the template ({{ inputs.n | int + 1 }}) or compare with "
    '[ "$N" -eq 1 ] using a variable from `env:`'
)
_SCRIPT_HINT = (
    "pass the value as an argument after the script and read it there: "
    "sh -c '… \"$1\" …' sh {{ x }} (python3 -c '…sys.argv[1]…' {{ x }})"
)
_SSH_HINT = (
    "ssh runs its command through the remote shell: use an `ssh` step, whose values "
    "reach the remote command as data"
)
_EVAL_HINT = "values are data, never code to evaluate: drop the eval, or read it from `env:`"
UNSAFE_PLACES = {
    "'": ("inside '…'", _QUOTE_HINT),
    "$'": ("inside $'…'", _QUOTE_HINT),
    "`": ("inside backquotes", "use $( … ) instead of backquotes"),
    "${": (
        "inside ${…}",
        "set it in `env:` (NAME: '{{ x }}') and expand that variable: ${NAME:-default}",
    ),
    "<<": ("in a here-document", _HEREDOC_HINT),
    "((": ("in shell arithmetic", _ARITHMETIC_HINT),
    "[[": ("inside [[ ]]", _ARITHMETIC_HINT),
}

# --- programs that read one of their arguments as code -------------------------------

_SHELLS = frozenset(
    {"sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "yash", "posh", "fish", "csh", "tcsh"}
)
_INLINE = {  # interpreter: the options whose operand (or attached rest) is a script
    "python": ("-c",),
    "perl": ("-e", "-E"),
    "ruby": ("-e",),
    "node": ("-e", "--eval", "-p", "--print"),
    "nodejs": ("-e", "--eval", "-p", "--print"),
    "deno": ("eval",),
    "php": ("-r",),
    "lua": ("-e",),
    "Rscript": ("-e",),
    "osascript": ("-e",),
    "tclsh": ("-c",),
    "su": ("-c", "--command"),
    "psql": ("-c", "--command"),
    "mysql": ("-e", "--execute"),
    "sed": ("-e", "--expression"),
}
_ALL_ARGUMENTS = frozenset({"eval", "watch"})
_AWKS = frozenset({"awk", "gawk", "mawk", "nawk"})
_SSH_OPTIONS_WITH_ARGUMENT = frozenset("BbcDEeFIiJLlmOopQRSWw")
_VERSIONED = re.compile(r"^(python|pypy|perl|ruby|lua|php|tclsh)[0-9.]*\Z")


def code_place(program: str) -> str:
    """Where a value in an argument `program` runs as code stands, in words."""
    special = {"ssh": "in the remote command of `ssh`", "eval": "in the words of `eval`"}
    return special.get(program, f"in code that `{program}` runs")


def script_hint(program: str) -> str:
    """How to hand a value to `program` as data instead of code."""
    return {"ssh": _SSH_HINT, "eval": _EVAL_HINT}.get(program, _SCRIPT_HINT)


def code_arguments(words: Sequence[str]) -> dict[int, str]:
    """The indices of the words that another program reads as code, each with the name
    of that program: the script of `sh -c`, `python3 -c`, `perl -e`…, an awk or sed
    program, every word of `eval`, and the remote command of `ssh`. Any word naming such
    a program starts the search (so `sudo`, `env`, `xargs`, `kubectl exec -- sh -c` are
    seen through)."""
    found: dict[int, str] = {}
    for index, word in enumerate(words):
        name = _program(word)
        if name is None:
            continue
        for code in _code_after(name, words, index + 1):
            found.setdefault(code, name)
    return found


_STDIN_READERS = frozenset({"psql", "mysql", "sqlite3"})


def stdin_program(words: Sequence[str]) -> str | None:
    """The program that reads its stdin as code when run as `words`: a shell or an
    interpreter given no script (`sh`, `bash -s x`, `python3 -`, `perl`), or a database
    client given no query (`psql db`). None when the program reads stdin as data."""
    if not words:
        return None
    base = words[0].rsplit("/", 1)[-1]
    name = _program(base)
    if base in _STDIN_READERS:
        queries = {"-c", "--command", "-e", "--execute", "-f", "--file"}
        return None if queries & set(words[1:]) else base
    if name is None or name in _ALL_ARGUMENTS or name in _AWKS or name in ("ssh", "sed", "su"):
        return None
    if _code_after(name, words, 1):
        return None  # -c SCRIPT / -e SCRIPT: the script is the code
    operands = [w for w in words[1:] if not w.startswith("-") or w == "-"]
    return name if not operands or operands[0] == "-" or "-s" in words[1:] else None


def _program(word: str) -> str | None:
    base = word.rsplit("/", 1)[-1]
    versioned = _VERSIONED.match(base)
    if versioned:
        base = "python" if versioned.group(1) == "pypy" else versioned.group(1)
    known = base in _SHELLS or base in _INLINE or base in _ALL_ARGUMENTS or base in _AWKS
    return base if known or base == "ssh" else None


def _code_after(name: str, words: Sequence[str], start: int) -> list[int]:
    if name in _ALL_ARGUMENTS:
        return list(range(start, len(words)))
    if name in _SHELLS:
        return _shell_script(words, start)
    if name == "ssh":
        return _ssh_command(words, start)
    if name in _AWKS or name == "sed":
        return _program_operand(words, start, _INLINE.get(name, ()))
    return _inline_script(words, start, _INLINE[name])


def _shell_script(words: Sequence[str], start: int) -> list[int]:
    """`sh [-eux] -c SCRIPT [name args…]`: the word after the options when one holds c."""
    inline = False
    index = start
    while index < len(words):
        word = words[index]
        if word == "--" or word[:1] not in ("-", "+") or word in ("-", "+"):
            break
        if word in ("-o", "+o"):
            index += 1
        elif not word.startswith("--") and "c" in word[1:]:
            inline = True
        index += 1
    if index < len(words) and words[index] == "--":
        index += 1
    return [index] if inline and index < len(words) else []


def _inline_script(words: Sequence[str], start: int, options: Sequence[str]) -> list[int]:
    """`python3 -c SCRIPT`, `perl -e SCRIPT`, `-cSCRIPT`, `--eval=SCRIPT`."""
    found = []
    for index in range(start, len(words)):
        word = words[index]
        if word in options:
            found.append(index + 1)
        elif any(word.startswith(option) for option in options if option[:1] == "-"):
            found.append(index)  # attached: -cSCRIPT, --eval=SCRIPT
    return [index for index in found if index < len(words)]


def _program_operand(words: Sequence[str], start: int, options: Sequence[str]) -> list[int]:
    """awk and sed: the `-e` scripts, else the first operand (unless `-f FILE` gives it)."""
    scripts = _inline_script(words, start, options) if options else []
    if scripts:
        return scripts
    index = start
    while index < len(words) and words[index].startswith("-") and words[index] != "--":
        if words[index] in ("-f", "--file"):
            return []
        index += 2 if words[index] in ("-v", "-F") else 1
    if index < len(words) and words[index] == "--":
        index += 1
    return [index] if index < len(words) else []


def _ssh_command(words: Sequence[str], start: int) -> list[int]:
    """`ssh [options] DESTINATION COMMAND…`: every word after the destination."""
    index = start
    while index < len(words) and words[index].startswith("-") and words[index] != "--":
        word = words[index]
        takes = len(word) == 2 and word[1] in _SSH_OPTIONS_WITH_ARGUMENT
        index += 2 if takes else 1
    if index < len(words) and words[index] == "--":
        index += 1
    return list(range(index + 1, len(words)))


# --- the tokenizer -------------------------------------------------------------------


class _Word:
    """One word of a simple command: its text without quotes, and the slots in it."""

    def __init__(self) -> None:
        self.text: list[str] = []
        self.slots: list[int] = []


_OPERATORS = frozenset(";&|()\n")
_BLANKS = frozenset(" \t")


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.at = 0
        self.places: list[Place] = []
        self.unsafe: list[Unsafe] = []
        self.heredocs: list[tuple[str, bool]] = []  # delimiter, strip leading tabs
        self.in_test = False  # between [[ and ]]
        self.after_options: set[int] = set()

    # slots

    def slot(self, place: Place, word: _Word | None) -> None:
        index = len(self.places)
        self.places.append(place)
        if word is not None:
            word.slots.append(index)
            word.text.append(SLOT)
        if self.in_test:
            self.refuse(index, "[[")

    def refuse(self, index: int, kind: str, program: str = "") -> None:
        if any(u.slot == index for u in self.unsafe):
            return
        if program:
            where, hint = code_place(program), script_hint(program)
        else:
            where, hint = UNSAFE_PLACES[kind]
        self.unsafe.append(Unsafe(index, self.offset_of(index), where, hint))

    def offset_of(self, slot: int) -> int:
        offset = -1
        for _ in range(slot + 1):
            offset = self.text.find(SLOT, offset + 1)
        return offset

    def opaque(self, end: int, kind: str) -> None:
        """Text up to `end` in which no slot is safe (quotes, backquotes, arithmetic…)."""
        while True:
            found = self.text.find(SLOT, self.at, end)
            if found < 0:
                break
            self.slot(Place.BARE, None)
            self.refuse(len(self.places) - 1, kind)
            self.at = found + 1
        self.at = end

    # the command lists

    def commands(self, closing: bool) -> None:
        """Simple commands until the end, or until the `)` closing a `$(`."""
        words: list[_Word] = []
        word: _Word | None = None
        depth = 0
        text = self.text
        while self.at < len(text):
            char = text[self.at]
            if char in _BLANKS or char in _OPERATORS or char in "<>":
                self.end_word(words, word)
                word = None
                if char in _BLANKS:
                    self.at += 1
                    continue
                if char in "<>":
                    self.redirection(words)
                    continue
                if char == ")" and closing and depth == 0:
                    self.end_command(words)
                    self.at += 1
                    return
                if char == "(" and not words and text.startswith("((", self.at):
                    self.at += 2
                    self.opaque(self.matching_parens(), "((")
                    continue
                depth += {"(": 1, ")": -1}.get(char, 0)
                self.end_command(words)
                words = []
                self.at += 1
                if char == "\n":
                    self.heredoc_bodies()
                continue
            if char == "#" and word is None:
                end = text.find("\n", self.at)
                self.comment(len(text) if end < 0 else end)
                continue
            if word is None:
                word = _Word()
            self.word_part(word)
        self.end_word(words, word)
        self.end_command(words)

    def end_word(self, words: list[_Word], word: _Word | None) -> None:
        if word is not None:
            words.append(word)
            literal = "".join(word.text)
            if literal == "[[" and len(words) == 1:
                self.in_test = True
                for slot in word.slots:
                    self.refuse(slot, "[[")
            elif literal == "]]":
                self.in_test = False

    def end_command(self, words: list[_Word]) -> None:
        if not words:
            return
        texts = ["".join(w.text) for w in words]
        if "--" in texts:
            for word in words[texts.index("--") + 1 :]:
                self.after_options.update(word.slots)
        if texts[0] == "let":
            for word in words[1:]:
                for slot in word.slots:
                    self.refuse(slot, "((")
        for index, program in code_arguments(texts).items():
            for slot in words[index].slots:
                self.refuse(slot, "", program)
        words.clear()

    def comment(self, end: int) -> None:
        while True:
            found = self.text.find(SLOT, self.at, end)
            if found < 0:
                break
            self.slot(Place.BARE, None)  # harmless: the shell skips the comment
            self.at = found + 1
        self.at = end

    def word_part(self, word: _Word) -> None:
        """One piece of a word: a character, an escape, a quoted string, an expansion."""
        text, char = self.text, self.text[self.at]
        if char == SLOT:
            self.at += 1
            self.slot(Place.BARE, word)
        elif char == "\\":
            word.text.append(text[self.at + 1 : self.at + 2].replace("\n", ""))
            self.at += 2
        elif char == "'":
            end = self.closing_quote(self.at + 1)
            word.text.append(text[self.at + 1 : end])
            self.at += 1
            self.opaque(end, "'")
            self.at = end + 1
        elif char == '"':
            self.at += 1
            self.double_quoted(word)
        elif char == "`":
            self.backquoted()
            word.text.append("`")
        elif char == "$":
            self.dollar(word)
        else:
            word.text.append(char)
            self.at += 1

    def closing_quote(self, start: int) -> int:
        end = self.text.find("'", start)
        return len(self.text) if end < 0 else end

    def double_quoted(self, word: _Word) -> None:
        text = self.text
        while self.at < len(text):
            char = text[self.at]
            if char == '"':
                self.at += 1
                return
            if char == SLOT:
                self.at += 1
                self.slot(Place.DOUBLE, word)
            elif char == "\\":
                word.text.append(text[self.at : self.at + 2])
                self.at += 2
            elif char == "`":
                self.backquoted()
            elif char == "$":
                self.dollar(word)
            else:
                word.text.append(char)
                self.at += 1

    def backquoted(self) -> None:
        end = self.at + 1
        while end < len(self.text) and self.text[end] != "`":
            end += 2 if self.text[end] == "\\" else 1
        self.at += 1
        self.opaque(min(end, len(self.text)), "`")
        self.at = end + 1

    def dollar(self, word: _Word) -> None:
        text, at = self.text, self.at
        if text.startswith("$((", at):
            self.at += 3
            self.opaque(self.matching_parens(), "((")
        elif text.startswith("$(", at):
            self.at += 2
            self.commands(closing=True)
        elif text.startswith("${", at):
            self.at += 2
            self.opaque(self.closing_brace(), "${")
        elif text.startswith("$'", at):
            end = at + 2
            while end < len(text) and text[end] != "'":
                end += 2 if text[end] == "\\" else 1
            self.at += 2
            self.opaque(min(end, len(text)), "$'")
            self.at = end + 1
        else:
            self.at += 1
        word.text.append("$")

    def matching_parens(self) -> int:
        """The end of `((…))` (self.at is inside): after the `))` closing it."""
        depth, at = 2, self.at
        while at < len(self.text) and depth:
            depth += {"(": 1, ")": -1}.get(self.text[at], 0)
            at += 1
        return at

    def closing_brace(self) -> int:
        depth, at = 1, self.at
        while at < len(self.text) and depth:
            char = self.text[at]
            if char == "\\":
                at += 1
            elif char == "'":
                at = self.closing_quote(at + 1)
            depth += {"{": 1, "}": -1}.get(char, 0)
            at += 1
        return at

    def redirection(self, words: list[_Word]) -> None:
        """`<`, `>`, `>>`, `<&`…; `<<[-]WORD` queues a here-document; `<<<` is a word."""
        text = self.text
        if text.startswith("<<", self.at) and not text.startswith("<<<", self.at):
            self.at += 2
            strip = text.startswith("-", self.at)
            self.at += 1 if strip else 0
            while self.at < len(text) and text[self.at] in _BLANKS:
                self.at += 1
            delimiter = _Word()
            while self.at < len(text) and text[self.at] not in _BLANKS | _OPERATORS | set("<>"):
                self.word_part(delimiter)
            for slot in delimiter.slots:
                self.refuse(slot, "<<")
            self.heredocs.append(("".join(delimiter.text), strip))
            return
        while self.at < len(text) and text[self.at] in "<>&|-0123456789":
            self.at += 1

    def heredoc_bodies(self) -> None:
        for delimiter, strip in self.heredocs:
            while self.at < len(self.text):
                end = self.text.find("\n", self.at)
                end = len(self.text) if end < 0 else end
                line = self.text[self.at : end]
                if (line.lstrip("\t") if strip else line) == delimiter:
                    self.at = min(end + 1, len(self.text))
                    break
                self.opaque(end, "<<")
                self.at = min(end + 1, len(self.text))
        self.heredocs.clear()


@lru_cache(maxsize=4096)
def analyse(script: str) -> Analysis:
    """The place of every slot of `script`, and those no quoting makes safe."""
    scanner = _Scanner(script)
    scanner.commands(closing=False)
    unsafe = sorted(scanner.unsafe, key=lambda u: u.slot)
    return Analysis(tuple(scanner.places), tuple(unsafe), frozenset(scanner.after_options))


# --- the command the shell gets --------------------------------------------------------

VALUE_PREFIX = "RUNBOOK_V"  # RUNBOOK_V1, RUNBOOK_V2…: the values of one command
_REFERENCE = {Place.BARE: '"${{{}}}"', Place.DOUBLE: "${{{}}}"}


class ShellCommand(Struct, frozen=True):
    """A command string as `/bin/sh -c` gets it: a script in which every value is a
    reference to an environment variable, and those variables."""

    script: str
    values: tuple[tuple[str, str], ...] = ()  # (name, value), in the script's order

    @property
    def argv(self) -> list[str]:
        return ["/bin/sh", "-c", self.script]

    @property
    def env(self) -> dict[str, str]:
        return dict(self.values)

    def shown(self) -> str:
        """What `plan` and the ledger show: one `NAME=value` line per value (quoted for
        the shell), then the script byte for byte."""

        return "\n".join([*(f"{n}={shlex.quote(v)}" for n, v in self.values), self.script])


@lru_cache(maxsize=256)
def value_name(index: int) -> str:
    return f"{VALUE_PREFIX}{index + 1}"


def compose(slotted: str, values: Sequence[str]) -> ShellCommand | Unsafe:
    """The command for a rendered script whose values are marked by SLOT, or the first
    place no quoting makes safe."""
    script = _script(slotted)
    if isinstance(script, Unsafe):
        return script
    names = map(value_name, range(len(values)))
    return ShellCommand(script, tuple(zip(names, values, strict=True)))


@lru_cache(maxsize=4096)
def _script(slotted: str) -> str | Unsafe:
    """The script with a reference in each slot: it depends on the text alone, not on
    the values, so a step repeated with other values reuses it."""
    analysis = analyse(slotted)
    if analysis.unsafe:
        return analysis.unsafe[0]
    pieces = slotted.split(SLOT)
    script = [pieces[0]]
    for index, place in enumerate(analysis.places):
        script += [_REFERENCE[place].format(value_name(index)), pieces[index + 1]]
    return "".join(script)
