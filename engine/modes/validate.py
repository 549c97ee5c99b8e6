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
from engine.playbook.loader import CheckReport, check_file

PLAYBOOK_SUFFIXES = (".yaml", ".yml")
# Below this many files, starting workers costs more than it saves.
PARALLEL_FROM = 64


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


def validate(paths: Sequence[str], jobs: int | None = None) -> list[CheckReport]:
    """A report per file, in order; `jobs` worker processes (default: one per core)."""
    files = list(playbook_files(paths))
    if not files:
        return []
    first = check(files[0])  # also loads, in this process, what the workers will need
    workers = _workers(len(files) - 1) if jobs is None else jobs
    if workers <= 1 or len(files) - 1 < PARALLEL_FROM or not _can_fork():
        return [first, *map(check, files[1:])]
    return [first, *_in_workers(files[1:], workers)]


def check(file: str) -> CheckReport:
    """The findings of one file (without the model: `validate` only reports)."""
    report = check_file(file)
    return CheckReport(report.file, None, report.findings)


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


def _in_workers(files: list[str], workers: int) -> list[CheckReport]:
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
