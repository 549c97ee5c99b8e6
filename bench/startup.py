"""Benchmark 1: start-up of a fresh `runbook --help` process, next to its peers.

Every case is a new process; cases are interleaved (round-robin) so that machine
noise falls on all of them alike; the median of the runs is reported.
"""

from __future__ import annotations

import statistics
import subprocess
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from bench.common import (
    RunFailed,
    Tools,
    environment,
    fmt_ratio,
    log,
    ms,
    ratio,
    summarise,
    timed_run,
    verdict,
)

TARGET_RATIO = 8.0  # runbook --help at most 8x `python -c pass`
WARMUP = 2


@dataclass(frozen=True)
class Case:
    key: str
    label: str
    argv: list[str] | None  # None: not installed


def cases(tools: Tools) -> list[Case]:
    py = tools.python
    runbook = tools.runbook
    return [
        Case("python", "python -c pass", [py, "-c", "pass"]),
        Case("python_click", 'python -c "import click" (context)', [py, "-c", "import click"]),
        Case("runbook", "runbook --help", [*runbook, "--help"] if runbook else None),
        Case(
            "ansible",
            "ansible-playbook --version",
            [tools.ansible_playbook, "--version"] if tools.ansible_playbook else None,
        ),
        Case("chaos", "chaos --help", [tools.chaos, "--help"] if tools.chaos else None),
    ]


def run(tools: Tools, runs: int, importtime_runs: int) -> dict[str, Any]:
    env = environment(tools)
    all_cases = cases(tools)
    samples: dict[str, list[float]] = defaultdict(list)
    cpu: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, str] = {}
    live = [c for c in all_cases if c.argv is not None]
    log(f"[startup] {len(live)} commands x {runs} runs (+{WARMUP} warm-up), interleaved")
    for round_no in range(WARMUP + runs):
        for case in live:
            if case.key in errors:
                continue
            assert case.argv is not None
            try:
                timing = timed_run(case.argv, env)
            except (RunFailed, OSError) as exc:
                errors[case.key] = str(exc)
                continue
            if round_no >= WARMUP:
                samples[case.key].append(timing.wall)
                cpu[case.key].append(timing.cpu)
    rows: list[dict[str, Any]] = []
    base = statistics.median(samples["python"]) if samples.get("python") else None
    for case in all_cases:
        row: dict[str, Any] = {"key": case.key, "command": case.label}
        if case.argv is None:
            row["status"] = "not installed"
        elif case.key in errors:
            row["status"] = "failed"
            row["error"] = errors[case.key]
        else:
            summary = summarise(samples[case.key])
            row.update(status="ok", **summary.as_dict())
            row["x_python"] = ratio(summary.median, base)
            row["cpu_median_s"] = statistics.median(cpu[case.key])
        rows.append(row)
    runbook_row = next(r for r in rows if r["key"] == "runbook")
    achieved = runbook_row.get("x_python")
    result: dict[str, Any] = {
        "runs": runs,
        "rows": rows,
        "target": {
            "name": "runbook --help / python -c pass",
            "limit": TARGET_RATIO,
            "value": achieved,
            "verdict": verdict(achieved, TARGET_RATIO),
        },
    }
    if tools.runbook is not None and importtime_runs > 0:
        result["importtime"] = importtime(tools, importtime_runs)
    return result


def importtime(
    tools: Tools,
    runs: int,
    top: int = 15,
    arguments: tuple[str, ...] = ("--help",),
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """`python -X importtime` of `runbook ARGUMENTS`: median self/cumulative per module."""
    argv = _importtime_argv(tools, arguments)
    env = env if env is not None else environment(tools)
    selfs: dict[str, list[int]] = defaultdict(list)
    cumulative: dict[str, list[int]] = defaultdict(list)
    depth: dict[str, int] = {}
    totals: list[int] = []
    for _ in range(runs):
        proc = subprocess.run(
            argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, check=False
        )
        if proc.returncode != 0:
            return {"error": proc.stderr.decode(errors="replace")[-2000:]}
        total = 0
        for line in proc.stderr.decode(errors="replace").splitlines():
            parsed = _parse_importtime(line)
            if parsed is None:
                continue
            name, level, self_us, cumulative_us = parsed
            selfs[name].append(self_us)
            cumulative[name].append(cumulative_us)
            depth[name] = level
            if level == 0:
                total += cumulative_us
        totals.append(total)

    def med(values: list[int]) -> int:
        return int(statistics.median(values))

    by_self = sorted(selfs, key=lambda n: med(selfs[n]), reverse=True)[:top]
    top_level = sorted(
        (n for n in cumulative if depth[n] == 0), key=lambda n: med(cumulative[n]), reverse=True
    )[:top]
    heavy_packages = _by_package(selfs)
    return {
        "command": " ".join(["runbook", *arguments]),
        "runs": runs,
        "total_import_us": med(totals) if totals else 0,
        "modules_imported": len(selfs),
        "top_self": [
            {"module": n, "self_us": med(selfs[n]), "cumulative_us": med(cumulative[n])}
            for n in by_self
        ],
        "top_level_cumulative": [
            {"module": n, "cumulative_us": med(cumulative[n])} for n in top_level
        ],
        "by_package_self": heavy_packages[:top],
    }


def _importtime_argv(tools: Tools, arguments: tuple[str, ...]) -> list[str]:
    runbook = tools.runbook_argv()
    if runbook[0] == tools.python:  # python -m engine
        return [tools.python, "-X", "importtime", *runbook[1:], *arguments]
    return [tools.python, "-X", "importtime", runbook[0], *arguments]


def _parse_importtime(line: str) -> tuple[str, int, int, int] | None:
    if not line.startswith("import time:"):
        return None
    parts = line[len("import time:") :].split("|")
    if len(parts) != 3 or not parts[0].strip().isdigit():
        return None  # the header line
    raw_name = parts[2].rstrip()
    stripped = raw_name.lstrip(" ")
    level = (len(raw_name) - len(stripped) - 1) // 2
    return stripped, level, int(parts[0]), int(parts[1])


def _by_package(selfs: dict[str, list[int]]) -> list[dict[str, Any]]:
    """Self time summed per top-level package: who is responsible for the total."""
    totals: dict[str, int] = defaultdict(int)
    counts: dict[str, int] = defaultdict(int)
    for name, values in selfs.items():
        package = name.split(".")[0]
        totals[package] += int(statistics.median(values))
        counts[package] += 1
    ranked = sorted(totals, key=lambda p: totals[p], reverse=True)
    return [{"package": p, "self_us": totals[p], "modules": counts[p]} for p in ranked]


def markdown(result: dict[str, Any]) -> list[str]:
    lines = [
        "## 1. Start-up (fresh process each run)",
        "",
        f"Median of {result['runs']} interleaved runs per command.",
        "",
        "| command | median ms | min ms | max ms | × python -c pass | CPU ms (median) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in result["rows"]:
        if row["status"] != "ok":
            lines.append(f"| `{row['command']}` | {row['status']} | | | | |")
            continue
        lines.append(
            f"| `{row['command']}` | {ms(row['median_s'])} | {ms(row['min_s'])} | "
            f"{ms(row['max_s'])} | {fmt_ratio(row['x_python'])} | {ms(row['cpu_median_s'])} |"
        )
    target = result["target"]
    lines += [
        "",
        f"Target: {target['name']} ≤ {target['limit']:.0f}× → "
        f"**{fmt_ratio(target['value'])} ({target['verdict']})**",
        "",
    ]
    if "importtime" in result:
        lines += importtime_markdown(result["importtime"], "`runbook --help`")
    for row in result["rows"]:
        if row["status"] == "failed":
            lines += [f"`{row['command']}` failed:", "", "```", row["error"], "```", ""]
    return lines


def importtime_markdown(imp: dict[str, Any], what: str, top: int = 15) -> list[str]:
    if "error" in imp:
        return [f"Import time of {what}: failed:", "", "```", imp["error"], "```", ""]
    lines = [
        f"### Import time of {what} (`python -X importtime`, median of {imp['runs']} runs)",
        "",
        f"{imp['modules_imported']} modules, {imp['total_import_us'] / 1000:.1f} ms of "
        "imports in total.",
        "",
        "| top-level import | cumulative ms |",
        "| --- | ---: |",
    ]
    for row in imp["top_level_cumulative"][:10]:
        lines.append(f"| `{row['module']}` | {row['cumulative_us'] / 1000:.1f} |")
    lines += ["", "| package | self ms (sum) | modules |", "| --- | ---: | ---: |"]
    for row in imp["by_package_self"][:10]:
        lines.append(f"| `{row['package']}` | {row['self_us'] / 1000:.1f} | {row['modules']} |")
    lines += [
        "",
        "| module (top by self time) | self ms | cumulative ms |",
        "| --- | ---: | ---: |",
    ]
    for row in imp["top_self"][:top]:
        lines.append(
            f"| `{row['module']}` | {row['self_us'] / 1000:.1f} | "
            f"{row['cumulative_us'] / 1000:.1f} |"
        )
    return [*lines, ""]
