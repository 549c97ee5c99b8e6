"""`runbook list` and `runbook show PLAYBOOK`: what playbooks there are and what they do."""

from __future__ import annotations

from collections.abc import Sequence

from engine.core.durations import format_seconds
from engine.model.playbook import Playbook, Sli, Step
from engine.modes.validate import playbook_files
from engine.playbook.loader import check_file
from engine.playbook.traits import is_readonly, undoes_itself

MATURITY_NAMES = {1: "documented", 2: "scripted", 3: "automated"}


def list_rows(directory: str) -> list[tuple[str, ...]]:
    """One row per playbook file: name, version, maturity, owner, steps, file."""
    rows: list[tuple[str, ...]] = []
    for file in playbook_files([directory]):
        report = check_file(file)
        playbook = report.playbook
        if playbook is None:
            rows.append(("(invalid)", "", "", "", "", file))
            continue
        meta = playbook.metadata
        level = f"{meta.maturity} {MATURITY_NAMES[meta.maturity]}"
        rows.append((meta.name, meta.version, level, meta.owner, str(len(playbook.steps)), file))
    return rows


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain text table: fast, and readable without colour."""
    widths = [max(len(str(cell)) for cell in col) for col in zip(header, *rows, strict=False)]
    lines = [
        "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False))
        for row in [header, *rows]
    ]
    return "\n".join(line.rstrip() for line in lines)


def describe_playbook(playbook: Playbook) -> str:
    meta = playbook.metadata
    lines = [
        f"{meta.name} {meta.version} — level {meta.maturity} ({MATURITY_NAMES[meta.maturity]})",
        f"  file:    {playbook.file}",
        f"  owner:   {meta.owner or '-'}",
        f"  summary: {meta.summary or '-'}",
        f"  hash:    {playbook.content_hash[:16]}",
    ]
    lines += _inputs_lines(playbook) + _sli_lines(playbook.sli) + ["steps:"]
    lines += [_step_line(i, step) for i, step in enumerate(playbook.steps, 1)]
    return "\n".join(lines)


def _inputs_lines(playbook: Playbook) -> list[str]:
    if not playbook.inputs:
        return []
    lines = ["inputs:"]
    for spec in playbook.inputs.values():
        default = f" = {spec.default!r}" if spec.default is not None else ""
        lines.append(f"  {spec.name}: {spec.type}{default}  {spec.description}".rstrip())
    return lines


def _sli_lines(sli: Sli | None) -> list[str]:
    if sli is None:
        return ["sli: none"]
    healthy = f", healthy when {sli.healthy}" if sli.healthy else ""
    timing = f"settle {format_seconds(sli.settle)}, {sli.samples} sample(s)"
    return [f"sli: {sli.probe.type} probe{healthy}; {timing}"]


def _step_line(index: int, step: Step) -> str:
    flags = []
    if is_readonly(step):
        flags.append("read-only")
    elif step.undo is not None:
        flags.append(f"undo: {step.undo.type}")
    elif undoes_itself(step):
        flags.append("undo: captured")
    elif step.irreversible:
        flags.append(f"irreversible: {step.irreversible}")
    flags += [name for name, on in (("confirm", step.confirm), ("when", step.when)) if on]
    if step.timeout:
        flags.append(f"timeout {format_seconds(step.timeout)}")
    title = f" — {step.title}" if step.title else ""
    return f"  {index}. {step.id} [{step.action.type}]{title}  ({'; '.join(flags)})"
