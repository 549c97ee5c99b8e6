"""The questions of a tabletop exercise at a terminal: who takes part, each step's
answer, its gap and note, the findings at the end. Ctrl-C or Ctrl-D at a question ends
the exercise (`AbortRequested`); what was answered before it is kept."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import click

from engine.core.tabletop import ANSWERS, GAP_WORDS, WOULD_DO, spoken
from engine.ui.operator import AbortRequested
from engine.ui.terminal_text import printable

T = TypeVar("T")

# What a participant may type for each answer: the words, with `_` or a space, or the
# first letter.
ANSWER_OF_INPUT = {
    **{a: a for a in ANSWERS},
    **{spoken(a): a for a in ANSWERS},
    **{a[0]: a for a in ANSWERS},
}
GAP_OF_INPUT = {
    **{g: g for g in GAP_WORDS},
    **{spoken(g): g for g in GAP_WORDS},
    **{word: g for g, word in GAP_WORDS.items()},
    **{word[0]: g for g, word in GAP_WORDS.items()},
}
_ANSWER_CHOICES = "would do (w), unclear (u), blocked (b)"
_GAP_CHOICES = ", ".join(f"{word} ({word[0]})" for word in GAP_WORDS.values())


def answer_of(typed: str) -> str:
    """The answer a participant typed; anything else is asked again."""
    found = ANSWER_OF_INPUT.get(" ".join(typed.split()).lower())
    if found is None:
        raise click.UsageError(f"{typed!r} is not one of {_ANSWER_CHOICES}")
    return found


def gap_of(typed: str) -> str:
    """The kind of gap a participant typed; anything else is asked again."""
    found = GAP_OF_INPUT.get(" ".join(typed.split()).lower())
    if found is None:
        raise click.UsageError(f"{typed!r} is not one of {_GAP_CHOICES}")
    return found


def participants_of(typed: str) -> list[str]:
    """Names separated by commas; at least one."""
    names = [name.strip() for name in typed.split(",") if name.strip()]
    if not names:
        raise click.UsageError("name at least one participant")
    return names


class TerminalTabletop:
    """Asks the participants at the terminal; `err`: the questions on stderr, when stdout
    is the JSON report, a file or a pipe."""

    def __init__(self, err: bool = False) -> None:
        self.err = err

    def say(self, text: str) -> None:
        click.echo(printable(text), err=self.err)

    def participants(self) -> list[str]:
        return self._ask("participants (names, separated by commas)", participants_of)

    def answer(self, shown: str) -> tuple[str, str, str]:
        """(answer, note, gap) at the step `shown`; gap is "" for would do."""
        self.say(shown)
        answer = self._ask(f"answer: {_ANSWER_CHOICES}", answer_of)
        gap = "" if answer == WOULD_DO else self._ask(f"gap: {_GAP_CHOICES}", gap_of)
        note = self._ask("note (optional)", str, default="")
        return answer, note.strip(), gap

    def findings(self) -> str:
        return self._ask("findings (optional)", str, default="").strip()

    def _ask(self, question: str, read: Callable[[str], T], default: str | None = None) -> T:
        try:
            return click.prompt(
                question,
                default=default,
                show_default=False,
                value_proc=read,
                err=self.err,
            )
        except (KeyboardInterrupt, EOFError, click.Abort):
            raise AbortRequested("the tabletop was stopped at a question") from None
