"""`runbook validate`: check files and directories of playbooks."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from engine.errors import ExitCode, UsageError
from engine.playbook import CheckReport, check_file

PLAYBOOK_SUFFIXES = (".yaml", ".yml")


def playbook_files(paths: Iterable[str]) -> Iterator[str]:
    """Files as given; directories searched recursively for *.yaml / *.yml."""
    for name in paths:
        path = Path(name)
        if path.is_dir():
            yield from _directory_files(path)
        elif path.exists():
            yield name
        else:
            raise UsageError(f"{name}: no such file or directory")


def _directory_files(directory: Path) -> list[str]:
    found = sorted(p for p in directory.rglob("*") if p.suffix in PLAYBOOK_SUFFIXES)
    files = [str(p) for p in found if p.is_file() and not _hidden(p, directory)]
    if not files:  # a mistyped or emptied folder must not pass as "all valid"
        raise UsageError(
            f"{directory}: no playbooks (*.yaml, *.yml) found", hint="check the directory name"
        )
    return files


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def validate(paths: Sequence[str]) -> list[CheckReport]:
    return [check_file(file) for file in playbook_files(paths)]


def exit_code(reports: Sequence[CheckReport], strict: bool) -> ExitCode:
    return ExitCode.OK if all(r.ok(strict) for r in reports) else ExitCode.FAILED


def render_text(reports: Sequence[CheckReport], strict: bool) -> str:
    lines = [f.render() for report in reports for f in report.findings]
    invalid = sum(1 for r in reports if not r.ok(strict))
    errors = sum(len(r.errors) for r in reports)
    warnings = sum(len(r.warnings) for r in reports)
    summary = (
        f"{len(reports)} playbook(s) checked: {len(reports) - invalid} valid, {invalid} invalid"
    )
    lines.append(f"{summary} ({errors} error(s), {warnings} warning(s))")
    return "\n".join(lines)


def render_json(reports: Sequence[CheckReport], strict: bool) -> str:
    return json.dumps([_report_json(r, strict) for r in reports], indent=2)


def _report_json(report: CheckReport, strict: bool) -> dict[str, object]:
    findings = [
        {
            "line": f.location.line,
            "col": f.location.col,
            "path": f.path,
            "severity": f.severity,
            "message": f.message,
            "hint": f.hint,
        }
        for f in report.findings
    ]
    return {"file": report.file, "valid": report.ok(strict), "findings": findings}
