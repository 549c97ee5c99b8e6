"""`runbook drill --case --dry-run`: what the check found, as text or JSON."""

from __future__ import annotations

import json

from engine.modes.regress.judge import DryCheck


def render_dry_json(check: DryCheck) -> str:
    return json.dumps(check.as_dict(), indent=2, sort_keys=True)


def render_dry_text(check: DryCheck) -> str:
    lines = [
        f"case {check.case} ({check.case_file}): dry run of {check.playbook} {check.version}"
        f" ({check.file}) — nothing injected, executed or probed",
        f"  playbook:   valid; content {_content(check)}",
    ]
    taken = [step["id"] for step in check.steps if step["now"] == "ran"]
    skipped = [step["id"] for step in check.steps if step["now"] == "skipped"]
    lines.append(f"  would run:  {', '.join(taken) or 'no step'}")
    if skipped:
        lines.append(f"  skipped:    {', '.join(skipped)} (`when` false)")
    unknown = [step["id"] for step in check.steps if step["now"] == "unknown"]
    if unknown:
        known_later = "(`when` reads a value only the run knows)"
        lines.append(f"  unknown:    {', '.join(unknown)} {known_later}")
    if check.failed_outcome:
        lines += _failed_run_lines(check)
    elif check.differences:
        lines.append(f"  path:       DIFFERENT from the recorded one ({len(check.differences)}):")
        lines += [f"    - {said}" for said in check.differences]
    else:
        lines.append("  path:       the same as recorded")
    return "\n".join(lines)


def _failed_run_lines(check: DryCheck) -> list[str]:
    """A case of a failed run: the path against the failed one is information; the
    playbook that failed, unchanged, is the failure."""
    said = f"the case came from a run that ended {check.failed_outcome}; its path is not enforced"
    lines = [f"  case:       {said}"]
    if check.differences:
        lines.append(f"  path:       differs from the failed run's ({len(check.differences)}):")
        lines += [f"    - {difference}" for difference in check.differences]
    else:
        lines.append("  path:       the same as the failed run's")
    if check.unchanged_since_failure:
        lines.append("  FAILED:     the playbook that failed is unchanged (the same content hash)")
    return lines


def _content(check: DryCheck) -> str:
    if check.unchanged_since_failure:
        return f"{check.content_hash[:12]}, unchanged since the failed run"
    if check.same_content:
        return f"{check.content_hash[:12]}, as in the case"
    return (
        f"{check.content_hash[:12]}, changed since the case ({check.recorded_hash[:12]});"
        " the path decides"
    )
