"""`runbook list` and `runbook show PLAYBOOK`: what playbooks there are and what they do."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from engine.core.durations import format_seconds
from engine.model.playbook import Healthy, InputSpec, Playbook, Sli, Slo, Step, Trigger
from engine.modes.validate import candidate_files, only_not_a_playbook
from engine.playbook.loader import check_file
from engine.playbook.traits import is_readonly, undoes_itself

MATURITY_NAMES = {1: "documented", 2: "scripted", 3: "automated"}


def list_rows(directory: str) -> list[tuple[str, ...]]:
    """One row per playbook file: name, version, maturity, owner, steps, file. YAML that
    reads as something else (an inventory, a Kubernetes manifest) is left out; a file that
    cannot be read is listed as invalid (it may be a broken playbook)."""
    rows: list[tuple[str, ...]] = []
    for file, _found in candidate_files([directory]):
        report = check_file(file)
        if only_not_a_playbook(report):
            continue
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


def describe_playbook_json(playbook: Playbook) -> str:
    """The summary as one JSON object: what it is, what it takes (secrets by name
    only), how it judges recovery, and each step with how it is undone."""
    meta = playbook.metadata
    summary = {
        "name": meta.name,
        "version": meta.version,
        "maturity": meta.maturity,
        "maturity_name": MATURITY_NAMES[meta.maturity],
        "owner": meta.owner,
        "summary": meta.summary,
        "description": meta.description,
        "file": playbook.file,
        "content_hash": playbook.content_hash,
        "triggers": [_trigger_json(trigger) for trigger in meta.triggers],
        "inputs": [_input_json(spec) for spec in playbook.inputs.values()],
        "secrets": list(playbook.secrets),
        "targets": list(playbook.targets),
        "sli": _sli_json(playbook.sli),
        "steps": [_step_json(step) for step in playbook.steps],
    }
    return json.dumps(summary, indent=2, default=str)


def _input_json(spec: InputSpec) -> dict[str, Any]:
    return {
        "name": spec.name,
        "type": spec.type,
        "required": spec.required,
        "default": spec.default,
        "enum": list(spec.enum),
        "pattern": spec.pattern,
        "description": spec.description,
        "from": spec.source or None,
    }


def _trigger_json(trigger: Trigger) -> dict[str, Any]:
    return {
        "alertname": trigger.alertname,
        "labels": dict(trigger.labels),
        "matchers": [matcher.text for matcher in trigger.matchers],
    }


def _sli_json(sli: Sli | None) -> dict[str, Any] | None:
    if sli is None:
        return None
    healthy = sli.healthy
    return {
        "probe": sli.probe.type,
        "healthy": None if healthy is None else {healthy.op: _bounds(healthy)},
        "settle_s": sli.settle,
        "samples": sli.samples,
        "interval_s": sli.interval,
        "timeout_s": sli.timeout,
        "on_not_recovered": sli.on_not_recovered,
        "slo": _slo_json(sli.slo),
    }


def _slo_json(slo: Slo | None) -> dict[str, Any] | None:
    """The objective as written (a string: exact), the window and its budget in seconds."""
    if slo is None:
        return None
    return {
        "objective": str(slo.objective),
        "window": slo.window_text,
        "window_s": slo.window,
        "budget_s": slo.budget_seconds,
    }


def _bounds(healthy: Healthy) -> float | list[float]:
    return healthy.low if healthy.high is None else [healthy.low, healthy.high]


def _step_json(step: Step) -> dict[str, Any]:
    return {
        "id": step.id,
        "title": step.title,
        "type": step.action.type,
        "readonly": is_readonly(step),
        "undo": _undo_type(step),
        "irreversible": step.irreversible,
    }


def _undo_type(step: Step) -> str | None:
    """The step type of the declared undo, "captured" when the step records its own,
    None when there is none (read-only or irreversible)."""
    if step.undo is not None:
        return step.undo.type
    if undoes_itself(step) and not is_readonly(step):
        return "captured"
    return None


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
    slo = sli.slo
    objective = f"; SLO {slo.objective}% over {slo.window_text}" if slo else ""
    return [f"sli: {sli.probe.type} probe{healthy}; {timing}{objective}"]


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
