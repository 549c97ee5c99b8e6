"""The human in the loop: a terminal operator, or a stand-in when nobody is there."""

from __future__ import annotations

import getpass
import os
import pwd
import sys
from typing import TYPE_CHECKING

import click

from engine.core.errors import RefusedError
from engine.ui.terminal_text import printable

if TYPE_CHECKING:
    from engine.core.signals import AbortSignals
    from engine.steps.base import Operator

ANSWERS = ("done", "failed", "skipped")
# What a tired human may type for each answer: its first letter will do.
ANSWER_OF_INPUT = {**{a: a for a in ANSWERS}, **{a[0]: a for a in ANSWERS}}


class AbortRequested(Exception):
    """The operator asked to stop: the run is aborted and rolled back."""


def operator_name() -> str:
    """Who is running the engine: `RUNBOOK_OPERATOR`, else the login name."""
    try:
        return os.environ.get("RUNBOOK_OPERATOR") or getpass.getuser()
    except (KeyError, OSError):
        return f"uid:{os.getuid()}"


def os_user() -> str:
    """The account of the real uid, which no environment variable can change (unlike
    `RUNBOOK_OPERATOR`, $USER or $LOGNAME): recorded beside the declared operator."""

    uid = os.getuid()
    try:
        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"


def has_terminal() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


class TerminalOperator:
    """Asks on the terminal. Ctrl-C at a prompt aborts the run (with rollback)."""

    def confirm(self, question: str) -> bool:
        try:
            return bool(click.confirm(printable(f"? {question}"), default=False))
        except (KeyboardInterrupt, EOFError, click.Abort):
            raise AbortRequested("aborted at a confirm gate") from None

    def checklist(self, title: str, body: str, expect: str) -> tuple[str, str]:
        click.echo(printable(f"\n── {title} ──\n{body}"))
        if expect:
            click.echo(printable(f"expected: {expect}"))
        try:
            answer = click.prompt(
                f"result ({', '.join(ANSWERS)})", default="done", value_proc=checklist_answer
            )
            note = click.prompt("note (optional)", default="", show_default=False)
        except (KeyboardInterrupt, EOFError, click.Abort):
            raise AbortRequested("aborted at a manual step") from None
        return str(answer), str(note)


def checklist_answer(typed: str) -> str:
    """The answer a human typed at the checklist: a full word or its first letter, in any
    case; anything else is asked again (click repeats the prompt on `click.UsageError`)."""
    answer = ANSWER_OF_INPUT.get(typed.strip().lower())
    if answer is None:
        raise click.UsageError(f"{typed!r} is not one of done (d), failed (f), skipped (s)")
    return answer


class HeadlessOperator:
    """No terminal: confirm gates pass only when pre-approved with --yes; nobody
    can do a manual step. The runner refuses such runs before step 1, so reaching
    a question here is a bug of the preflight, reported as a refusal."""

    def __init__(self, assume_yes: bool) -> None:
        self.assume_yes = assume_yes

    def confirm(self, question: str) -> bool:
        if self.assume_yes:
            return True
        raise RefusedError(f"no terminal to ask: {question}", "pass --yes to pre-approve gates")

    def checklist(self, title: str, body: str, expect: str) -> tuple[str, str]:
        raise RefusedError(f"step {title!r} needs a human", "run it from a terminal")


class SignalAwareOperator:
    """Wraps the operator of a run so that every question (confirm gate, checklist,
    manual step, guided undo) is asked while Ctrl-C / SIGTERM interrupt the prompt:
    without it a signal during a manual step's prompt is only noted, and the engine
    keeps waiting for an answer."""

    def __init__(self, inner: Operator, signals: AbortSignals) -> None:
        self.inner = inner
        self.signals = signals

    def confirm(self, question: str) -> bool:
        try:
            with self.signals.prompting():
                return self.inner.confirm(question)
        except KeyboardInterrupt:
            raise self._abort("a question") from None

    def checklist(self, title: str, body: str, expect: str) -> tuple[str, str]:
        try:
            with self.signals.prompting():
                return self.inner.checklist(title, body, expect)
        except KeyboardInterrupt:
            raise self._abort(title) from None

    def _abort(self, what: str) -> BaseException:
        """A signal that arrived just before or after the prompt read: an abort, unless
        it is the hard stop (then it propagates and the engine exits at once)."""
        if self.signals.hard_stop:
            return KeyboardInterrupt()
        return AbortRequested(f"aborted by {self.signals.reason or 'signal'} at {what}")
