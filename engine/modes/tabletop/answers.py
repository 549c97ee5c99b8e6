"""The answers of a tabletop: what participants may answer at a step, the kinds of gap,
and `--answers FILE`, the answers written down beforehand (no terminal needed).

The file, checked whole before anything is recorded (UsageError, exit 2, at the
`file:line:col` of what is wrong):

    participants: [ana, bo]
    steps:
      drain: {answer: would_do, note: "we do this weekly"}
      restart: {answer: blocked, gap: missing_permission, note: "no sudo on db hosts"}
    findings: |
      nobody knew who owns the db hosts
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NoReturn

from msgspec import Struct

from engine.core.errors import InvalidPlaybook, UsageError
from engine.core.findings import Location
from engine.core.tabletop import ANSWERS, GAPS, WOULD_DO
from engine.model.yamlsource import Source, load_source

HINT = "see the README: Tabletop exercises, the answers file"
_TOP_KEYS = ("participants", "steps", "findings")
_STEP_KEYS = ("answer", "note", "gap")


class StepAnswer(Struct, frozen=True):
    """The participants' answer at one step; `gap` is "" for `would_do`."""

    answer: str
    note: str = ""
    gap: str = ""


class AnswersFile(Struct, frozen=True):
    participants: list[str]
    steps: dict[str, StepAnswer]
    findings: str


def load_answers(file: str, step_ids: Sequence[str]) -> AnswersFile:
    """The answers of `file` for a playbook of `step_ids`: one for every step, none for
    a step it does not have (UsageError at `file:line:col` otherwise)."""
    try:
        source = load_source(file)
    except InvalidPlaybook as exc:
        first = exc.findings[0]
        raise UsageError(first.message, HINT, first.location) from None
    except OSError as exc:
        raise UsageError(f"cannot read {file}: {exc.strerror}", HINT) from None
    data = source.data
    _known_keys(source, (), data, _TOP_KEYS)
    steps = data.get("steps")
    if not isinstance(steps, dict):
        where = ("steps",) if "steps" in data else ()
        _fail(source, where, "`steps` must map each step id to its answer", False)
    answers = {step: _step_answer(source, step, steps[step], step_ids) for step in steps}
    missing = [step for step in step_ids if step not in answers]
    if missing:
        _fail(source, ("steps",), f"no answer for step(s) {', '.join(missing)}", True)
    return AnswersFile(
        participants=_participants(source, data.get("participants")),
        steps={step: answers[step] for step in step_ids},
        findings=_text(source, ("findings",), data.get("findings")),
    )


def _step_answer(source: Source, step: Any, value: Any, step_ids: Sequence[str]) -> StepAnswer:
    where: tuple[str | int, ...] = ("steps", str(step))
    if step not in step_ids:
        known = ", ".join(step_ids)
        _fail(source, where, f"step '{step}' is not in the playbook (its steps: {known})", True)
    if isinstance(value, str):  # `drain: would_do`, the short form
        value = {"answer": value}
    if not isinstance(value, dict):
        _fail(source, where, f"the answer of step '{step}' must be a mapping or a word", False)
    _known_keys(source, where, value, _STEP_KEYS)
    answer = value.get("answer")
    if answer not in ANSWERS:
        at = (*where, "answer") if "answer" in value else where
        said = f"{answer!r} is not" if "answer" in value else "no `answer`; it is"
        _fail(source, at, f"step '{step}': {said} one of {', '.join(ANSWERS)}", False)
    gap = value.get("gap")
    if answer == WOULD_DO and gap is not None:
        _fail(source, (*where, "gap"), f"step '{step}': a gap is for unclear or blocked", True)
    if answer != WOULD_DO and gap not in GAPS:
        at = (*where, "gap") if "gap" in value else where
        said = f"{gap!r} is not" if "gap" in value else f"{answer} needs a `gap`,"
        _fail(source, at, f"step '{step}': {said} one of {', '.join(GAPS)}", False)
    note = _text(source, (*where, "note"), value.get("note"))
    return StepAnswer(str(answer), note, str(gap or ""))


def _participants(source: Source, value: Any) -> list[str]:
    if value is None:
        return []
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not all(isinstance(n, str) and n.strip() for n in names):
        _fail(source, ("participants",), "`participants` must be a list of names", False)
    return [name.strip() for name in names]


def _text(source: Source, where: tuple[str | int, ...], value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        _fail(source, where, f"`{where[-1]}` must be text", False)
    return value.strip()


def _known_keys(
    source: Source, where: tuple[str | int, ...], data: Any, keys: Sequence[str]
) -> None:
    for key in data:
        if key not in keys:
            message = f"unknown key {key!r} (expected one of {', '.join(keys)})"
            _fail(source, (*where, str(key)), message, True)


def _fail(source: Source, where: tuple[str | int, ...], message: str, key: bool) -> NoReturn:
    location: Location = source.at(where, key=key)
    raise UsageError(message, HINT, location)
