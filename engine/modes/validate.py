"""`runbook validate`: check files and directories of playbooks.

Many files are checked by worker processes (one per core), forked once the parent
has loaded what checking needs; reports come back in the order of the files, so the
output and the exit code are the same as when one process checks them all.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from engine.core.errors import ExitCode, UsageError
from engine.playbook.identify import (
    NOT_A_PLAYBOOK,
    NOT_A_PLAYBOOK_SAYS,
    SNIFF_CHARS,
    clearly_not_a_playbook,
)
from engine.playbook.loader import CheckReport, check_file

PLAYBOOK_SUFFIXES = (".yaml", ".yml")
# Below this many files, starting workers costs more than it saves.
PARALLEL_FROM = 64


def candidate_files(paths: Iterable[str]) -> Iterator[tuple[str, bool]]:
    """(file, found in a directory): a file named on the command line is checked even
    when it is not a playbook; one found in a directory may be skipped."""
    for name in paths:
        path = Path(name)
        if path.is_dir():
            yield from ((file, True) for file in _directory_files(path))
        elif path.exists():
            yield name, False
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


def validate(paths: Sequence[str], jobs: int | None = None) -> list[CheckReport]:
    """A report per file, in order; `jobs` worker processes (default: one per core).

    YAML found in a directory that is not a playbook (an inventory, a manifest) gets a
    skipped report; if nothing is left to check, that is a usage error."""
    files = list(candidate_files(paths))
    if not files:
        return []
    first = check(files[0])  # also loads, in this process, what the workers will need
    workers = _workers(len(files) - 1) if jobs is None else jobs
    if workers <= 1 or len(files) - 1 < PARALLEL_FROM or not _can_fork():
        reports = [first, *map(check, files[1:])]
    else:
        reports = [first, *_in_workers(files[1:], workers)]
    if all(report.skipped for report in reports):
        raise UsageError(
            f"no playbooks found: {len(reports)} YAML file(s) skipped, none is a playbook",
            hint="a playbook starts with `apiVersion: runbook/v1` and `kind: Playbook`",
        )
    return reports


def check(candidate: tuple[str, bool]) -> CheckReport:
    """The findings of one file (without the model: `validate` only reports); a file
    found in a directory that is plainly not a playbook is skipped, not failed."""
    file, found = candidate
    if found and clearly_not_a_playbook(top_of(file)):
        return CheckReport(file, None, (), skipped=NOT_A_PLAYBOOK)
    report = check_file(file)
    if found and only_not_a_playbook(report):
        return CheckReport(file, None, (), skipped=NOT_A_PLAYBOOK)
    return CheckReport(report.file, None, report.findings)


def only_not_a_playbook(report: CheckReport) -> bool:
    return len(report.findings) == 1 and report.findings[0].message.startswith(NOT_A_PLAYBOOK_SAYS)


def top_of(file: str) -> str:
    """The first characters of a file, read leniently: enough to see what it is."""
    try:
        with open(file, "rb") as handle:
            return handle.read(SNIFF_CHARS).decode("utf-8", errors="replace")
    except OSError:  # the full check reports why the file cannot be read
        return ""


def _workers(count: int) -> int:
    if count < PARALLEL_FROM:
        return 1
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return min(cores, 8)


def _can_fork() -> bool:
    """Only a single-threaded process on a platform with fork: workers start warm."""

    return "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1


def _in_workers(files: list[tuple[str, bool]], workers: int) -> list[CheckReport]:
    chunk = max(1, min(32, len(files) // (workers * 4)))
    context = multiprocessing.get_context("fork")
    sys.stdout.flush()
    sys.stderr.flush()
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_worker_start) as pool:
        return list(pool.map(check, files, chunksize=chunk))


def _worker_start() -> None:
    """Ctrl-C is the parent's to handle: it stops the pool and reports once."""

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def exit_code(reports: Sequence[CheckReport], strict: bool) -> ExitCode:
    """OK when every checked file is valid (skipped files count for nothing)."""
    return ExitCode.OK if all(r.ok(strict) for r in reports) else ExitCode.FAILED


def render_text(reports: Sequence[CheckReport], strict: bool) -> str:
    """Each finding and each skipped file on a line, then the counts."""
    lines = [line for report in reports for line in _report_lines(report)]
    checked = [r for r in reports if not r.skipped]
    invalid = sum(1 for r in checked if not r.ok(strict))
    errors = sum(len(r.errors) for r in checked)
    warnings = sum(len(r.warnings) for r in checked)
    summary = (
        f"{len(checked)} playbook(s) checked: {len(checked) - invalid} valid, {invalid} invalid"
    )
    skipped = len(reports) - len(checked)
    counts = f"{errors} error(s), {warnings} warning(s)"
    counts += f", {skipped} file(s) skipped: not playbooks" if skipped else ""
    lines.append(f"{summary} ({counts})")
    return "\n".join(lines)


def _report_lines(report: CheckReport) -> list[str]:
    if report.skipped:
        return [f"{report.file}: skipped: {report.skipped}"]
    return [finding.render() for finding in report.findings]


def render_json(reports: Sequence[CheckReport], strict: bool) -> str:
    """A list with one entry per file; a skipped file has `valid: null` and why."""
    return json.dumps([_report_json(r, strict) for r in reports], indent=2)


def _report_json(report: CheckReport, strict: bool) -> dict[str, object]:
    if report.skipped:
        return {"file": report.file, "valid": None, "skipped": report.skipped, "findings": []}
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
