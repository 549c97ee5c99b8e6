"""What a tabletop tells: the walk-through's introduction and each step as the
participants see them, and the report at the end (text, Markdown for `--report FILE`,
JSON): participants, duration, each step's answer and note, the gaps by kind, findings."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from msgspec import Struct, field
from msgspec.structs import asdict

from engine.core.durations import format_seconds
from engine.core.errors import UsageError
from engine.core.outcome import Outcome
from engine.core.output_file import other_than_a_file, write_output
from engine.core.results import Verdict
from engine.core.tabletop import ANSWERS, GAPS, spoken
from engine.modes.tabletop.walk import Walk, WalkedStep
from engine.ui.terminal_text import printable, printable_line

REPORT_MODE = 0o600


class AnsweredStep(Struct, frozen=True):
    id: str
    title: str
    answer: str
    note: str
    gap: str


class Tabletop(Struct):
    """One exercise as it goes: its run id, what was walked through, and the answers."""

    run_id: str
    walk: Walk
    participants: list[str] = field(default_factory=list)
    started_at: float = 0.0
    steps: list[AnsweredStep] = field(default_factory=list)
    findings: str = ""
    status: str = "running"
    duration: float = 0.0

    @property
    def exit_code(self) -> int:
        return int(Outcome(self.status).exit_code)

    def gaps(self) -> dict[str, list[AnsweredStep]]:
        """The steps answered unclear or blocked, by kind of gap (in the kinds' order)."""
        by_kind = {kind: [step for step in self.steps if step.gap == kind] for kind in GAPS}
        return {kind: steps for kind, steps in by_kind.items() if steps}

    def message(self) -> str:
        counts = [f"{sum(s.answer == a for s in self.steps)} {spoken(a)}" for a in ANSWERS]
        total = len(self.walk.steps)
        gaps = sum(len(steps) for steps in self.gaps().values())
        said = f"{', '.join(counts)}; {gaps} gap(s)"
        if self.status == Outcome.ABORTED.value and not self.participants:
            return f"stopped before the first of {total} step(s), at who takes part"
        if self.status == Outcome.ABORTED.value:
            at = (
                self.walk.steps[len(self.steps)].planned.id
                if len(self.steps) < total
                else "the findings"
            )
            return f"stopped at {at} after {len(self.steps)} of {total} step(s): {said}"
        return f"{total} step(s) walked through: {said}"


# -- during the walk-through -------------------------------------------------------------


def intro_text(walk: Walk, run_id: str) -> str:
    """What the participants are told first: the playbook, its inputs, SLI and drill."""
    meta = walk.playbook.metadata
    lines = [
        f"tabletop {run_id}: {meta.name} {meta.version} (level {meta.maturity})"
        f" — nothing is executed, nothing is read",
        f"file: {walk.playbook.file}",
        f"inputs: {_inputs(walk.inputs)}",
    ]
    if walk.secrets:
        lines.append(f"secrets (not read; shown as «secret:NAME»): {', '.join(walk.secrets)}")
    lines.append(f"SLI (not read): {walk.sli}")
    if walk.drill:
        lines.append("drill:")
        lines += [f"  {line}" for line in walk.drill]
    lines.append(
        f"{len(walk.steps)} step(s): for each, would you do it? would do, unclear or blocked"
    )
    return "\n".join(lines)


def _inputs(inputs: dict[str, Any]) -> str:
    return ", ".join(f"{name}={value}" for name, value in inputs.items()) or "none"


def step_text(walked: WalkedStep, index: int, total: int) -> str:
    """One step rendered as the plan renders it, with what it would change."""
    item = walked.planned
    title = f" — {item.title}" if item.title and item.title != item.id else ""
    lines = [f"\n── step {index} of {total}: {item.id}{title} [{item.type}] ──"]
    if walked.description:
        lines.append(f"  what:    {_indented(walked.description)}")
    lines.append(f"  run:     {_indented(item.command)}")
    lines += [_detail_text(detail.label, detail.text) for detail in walked.details]
    lines.append(f"  changes: {_change(item.verdict, item.readonly)}")
    lines.append(f"  undo:    {_indented(item.undo)}")
    lines += [_detail_text(f"undo {detail.label}", detail.text) for detail in walked.undo_details]
    extras = [
        ("irreversible", walked.irreversible if "irreversible" not in item.undo else ""),
        ("confirm", f"asks {item.confirm!r} before it runs" if item.confirm else ""),
        ("when", f"runs only when {item.when}" if item.when else ""),
        ("note", item.note),
    ]
    lines += [f"  {label}: {_indented(text)}" for label, text in extras if text]
    return "\n".join(lines)


def _detail_text(label: str, text: str) -> str:
    """A detail beside its label when both fit the column, else below it."""
    if len(label) < 8 and "\n" not in text.strip():
        return f"  {label + ':':<9}{text.strip()}"
    return f"  {label}:\n{' ' * 11}{_indented(text)}"


def _change(verdict: str, readonly: bool) -> str:
    if readonly:
        return "nothing (read-only)"
    said = {Verdict.WOULD_CHANGE: "would change the system", Verdict.NO_OP: "nothing now"}
    return said.get(Verdict(verdict), "unknown until it runs")


def _indented(text: str) -> str:
    return text.strip().replace("\n", "\n" + " " * 11)


# -- the report ----------------------------------------------------------------------------


def _step_line(step: AnsweredStep) -> str:
    gap = f" ({spoken(step.gap)})" if step.gap else ""
    note = f": {step.note}" if step.note else ""
    return f"{step.id} — {spoken(step.answer)}{gap}{note}"


def render_text(tabletop: Tabletop) -> str:
    """The report as printed at the end."""
    walk = tabletop.walk
    meta = walk.playbook.metadata
    lines = [
        f"tabletop {tabletop.run_id} of {meta.name} {meta.version} ({walk.playbook.file})"
        f" — {tabletop.status} in {format_seconds(tabletop.duration)}",
        f"participants: {', '.join(tabletop.participants) or 'none named'}",
        f"summary:      {tabletop.message()}",
        "steps:",
    ]
    answered = {step.id: step for step in tabletop.steps}
    for index, walked in enumerate(walk.steps, 1):
        step = answered.get(walked.planned.id)
        said = _step_line(step) if step else f"{walked.planned.id} — not reached"
        lines.append(f"  {index}. {said}")
    gaps = tabletop.gaps()
    lines.append("gaps:" if gaps else "gaps: none")
    for kind, steps in gaps.items():
        lines.append(f"  {spoken(kind)}: {', '.join(step.id for step in steps)}")
    lines.append(f"findings: {_indented(tabletop.findings) or 'none written'}")
    return "\n".join(lines)


def render_markdown(tabletop: Tabletop) -> str:
    """The report as `--report FILE.md` writes it."""
    walk = tabletop.walk
    meta = walk.playbook.metadata
    lines = [
        f"# Tabletop: {meta.name} {meta.version}",
        "",
        f"- Run: `{tabletop.run_id}` (`runbook show {tabletop.run_id}`)",
        f"- Playbook: `{printable_line(walk.playbook.file)}` (level {meta.maturity})",
        f"- Outcome: {tabletop.status} — {tabletop.message()}",
        f"- Duration: {format_seconds(tabletop.duration)}",
        f"- Participants: {_cell(', '.join(tabletop.participants)) or 'none named'}",
        "",
        "## Steps",
        "",
        "| # | step | answer | gap | note |",
        "|---|---|---|---|---|",
    ]
    answered = {step.id: step for step in tabletop.steps}
    for index, walked in enumerate(walk.steps, 1):
        step = answered.get(walked.planned.id)
        cells = (
            [spoken(step.answer), spoken(step.gap), step.note] if step else ["not reached", "", ""]
        )
        lines.append(f"| {index} | {_cell(walked.planned.id)} | {' | '.join(map(_cell, cells))} |")
    lines += ["", "## Gaps", ""]
    gaps = tabletop.gaps()
    if not gaps:
        lines.append("None.")
    for kind, steps in gaps.items():
        lines += [f"### {spoken(kind).capitalize()}", ""]
        lines += [f"- `{step.id}`: {_cell(step.note) or '(no note)'}" for step in steps]
        lines.append("")
    lines += ["", "## Findings", "", printable(tabletop.findings) or "None written.", ""]
    return "\n".join(lines)


def _cell(text: str) -> str:
    """Text in a Markdown table cell: one line, its pipes escaped, and what a terminal
    would obey (the file is read with `cat` too) shown as escapes."""
    return printable_line(" ".join(text.split())).replace("|", "\\|")


def render_json(tabletop: Tabletop) -> str:
    walk = tabletop.walk
    meta = walk.playbook.metadata
    answered = {step.id: step for step in tabletop.steps}
    document = {
        "run_id": tabletop.run_id,
        "playbook": meta.name,
        "version": meta.version,
        "file": walk.playbook.file,
        "status": tabletop.status,
        "message": tabletop.message(),
        "participants": tabletop.participants,
        "duration": round(tabletop.duration, 3),
        "inputs": walk.inputs,
        "sli": walk.sli,
        "drill": walk.drill,
        "steps": [_step_json(walked, answered.get(walked.planned.id)) for walked in walk.steps],
        "gaps": {kind: [step.id for step in steps] for kind, steps in tabletop.gaps().items()},
        "findings": tabletop.findings,
    }
    return json.dumps(document, indent=2)


def _step_json(walked: WalkedStep, step: AnsweredStep | None) -> dict[str, Any]:
    """A step's answer, gap and note (null: not reached), and the step as the plan's
    JSON shows it."""
    return {
        "id": walked.planned.id,
        "answer": step.answer if step else None,
        "gap": (step.gap or None) if step else None,
        "note": step.note if step else None,
        "irreversible": walked.irreversible or None,
        "description": walked.description or None,
        "details": {detail.label: detail.text for detail in walked.details},
        "undo_details": {detail.label: detail.text for detail in walked.undo_details},
        "plan": asdict(walked.planned),
    }


# -- the report file -----------------------------------------------------------------------


def check_report_target(file: str | None) -> None:
    """Before the exercise: the report's folder exists and can be written (UsageError,
    exit 2, otherwise), so that no answers are given for a report that cannot be kept."""
    if file is None:
        return
    target = Path(file)
    folder = target.parent
    if target.is_dir():
        raise UsageError(f"--report {file}: is a folder", "name a file, e.g. tabletop.md")
    kind = other_than_a_file(target)
    if kind:
        raise UsageError(
            f"--report {file}: not a regular file but {kind}; it is left as it is",
            "name a new or regular file, e.g. tabletop.md (the report replaces it)",
        )
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(
            f"--report {file}: cannot write in {folder}: it is not a folder this user can write",
            "name a file in a folder you can write",
        )


def write_report(target: Path, tabletop: Tabletop) -> None:
    """The Markdown report into `target` in one piece (a file beside it, 0600, renamed),
    never over anything but a regular file (engine/core/output_file.py)."""
    try:
        write_output(target, render_markdown(tabletop), force=True, mode=REPORT_MODE)
    except UsageError as exc:
        raise UsageError(
            f"{exc.message}; the tabletop is recorded as {tabletop.run_id}",
            f"runbook show {tabletop.run_id} tells it",
        ) from None
