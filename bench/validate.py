"""Benchmark 2: `runbook validate DIR` over 1,000 generated playbooks, one process.

Also a best-effort, in-process breakdown of where the time goes (YAML, schema,
templates, model, semantic checks), so a regression points at its phase.
"""

from __future__ import annotations

import re
import statistics
import subprocess
from pathlib import Path
from typing import Any

from bench import playbooks
from bench.common import RunFailed, Tools, environment, log, summarise, timed_run, verdict

TARGET_SECONDS = 2.0
PHASES_SCRIPT = Path(__file__).resolve().parent / "validate_phases.py"
_SUMMARY = re.compile(r"(\d+) playbook\(s\) checked: (\d+) valid, (\d+) invalid")


def run(tools: Tools, workdir: Path, count: int, repeat: int, seed: int) -> dict[str, Any]:
    directory = workdir / "playbooks"
    files = playbooks.generate(directory, count, seed)
    sizes = [f.stat().st_size for f in files]
    steps = [f.read_text(encoding="utf-8").count("\n- id: ") for f in files]
    result: dict[str, Any] = {
        "playbooks": count,
        "repeat": repeat,
        "bytes_total": sum(sizes),
        "steps_total": sum(steps),
        "steps_min": min(steps),
        "steps_max": max(steps),
    }
    if tools.runbook is None:
        result["status"] = "not installed"
        return result
    argv = [*tools.runbook, "validate", str(directory)]
    env = environment(tools, RUNBOOK_HOME=str(workdir / "home"))
    log(f"[validate] runbook validate over {count} playbooks x {repeat} (+1 warm-up)")
    samples: list[float] = []
    cpu: list[float] = []
    output = ""
    try:
        for attempt in range(repeat + 1):
            timing = timed_run(argv, env, check=False)
            output = timing.output
            if attempt > 0:
                samples.append(timing.wall)
                cpu.append(timing.cpu)
    except (RunFailed, OSError) as exc:
        result.update(status="failed", error=str(exc))
        return result
    match = _SUMMARY.search(output)
    checked, valid, invalid = (int(g) for g in match.groups()) if match else (0, 0, 0)
    result.update(checked=checked, valid=valid, invalid=invalid)
    if not match or checked != count:
        result["status"] = "failed"
        result["error"] = f"unexpected `runbook validate` output:\n{output[-3000:]}"
        return result
    summary = summarise(samples)
    result.update(status="ok", **summary.as_dict())
    result["per_playbook_ms"] = summary.median / count * 1000
    result["cpu_median_s"] = statistics.median(cpu)
    comparable = count == 1000 and invalid == 0
    result["target"] = {
        "name": f"runbook validate, {count} playbooks, one process",
        "limit": TARGET_SECONDS,
        "value": summary.median,
        "verdict": verdict(summary.median, TARGET_SECONDS) if comparable else "n/a",
    }
    if invalid:
        # Invalid files take another path (no model): the time is shown, not judged.
        # The engine's rules moved on; bench/playbooks.py has to follow them.
        result["warning"] = (
            f"{invalid} generated playbook(s) are invalid for this engine: update "
            f"bench/playbooks.py. End of the output:\n{output[-3000:]}"
        )
    result["phases"] = phases(tools, directory, env, repeat)
    return result


def phases(tools: Tools, directory: Path, env: dict[str, str], repeat: int) -> dict[str, Any]:
    """Per-phase seconds for the whole directory, median over runs (best effort)."""
    argv = [tools.python, str(PHASES_SCRIPT), str(directory)]
    runs: list[dict[str, float]] = []
    for _ in range(max(1, min(repeat, 3))):
        proc = subprocess.run(
            argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, check=False
        )
        if proc.returncode != 0:
            tail = (proc.stdout + proc.stderr).decode(errors="replace")[-1500:]
            return {"error": f"breakdown unavailable (engine internals changed?):\n{tail}"}
        runs.append(_parse_phases(proc.stdout.decode()))
    return {name: statistics.median(r[name] for r in runs) for name in runs[0]}


def _parse_phases(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in text.splitlines():
        name, _, value = line.partition("=")
        if value:
            out[name.strip()] = float(value)
    return out


def markdown(result: dict[str, Any]) -> list[str]:
    lines = [
        "## 2. `runbook validate` over generated playbooks (one process)",
        "",
        f"{result['playbooks']} playbooks, {result['steps_total']} steps "
        f"({result['steps_min']}–{result['steps_max']} per playbook), "
        f"{result['bytes_total'] / 1024:.0f} KiB of YAML.",
        "",
    ]
    if result["status"] != "ok":
        lines.append(f"**{result['status']}**")
        if "error" in result:
            lines += ["", "```", result["error"], "```"]
        return [*lines, ""]
    target = result["target"]
    lines += [
        "| measure | value |",
        "| --- | ---: |",
        f"| wall time, median of {result['repeat']} | {result['median_s']:.2f} s |",
        f"| min / max | {result['min_s']:.2f} / {result['max_s']:.2f} s |",
        f"| per playbook | {result['per_playbook_ms']:.2f} ms |",
        f"| CPU time (user + system), median | {result['cpu_median_s']:.2f} s |",
        f"| result | {result['valid']} valid, {result['invalid']} invalid |",
        "",
        f"Target: under {target['limit']:.0f} s → **{target['value']:.2f} s "
        f"({target['verdict']})**",
        "",
    ]
    if "warning" in result:
        lines += ["**Warning:**", "", "```", result["warning"], "```", ""]
    phases = result.get("phases", {})
    if "error" in phases:
        lines += ["Phase breakdown:", "", "```", phases["error"], "```", ""]
    elif phases:
        counted = {k: v for k, v in phases.items() if _counted(k)}
        total = sum(counted.values()) or 1.0
        lines += [
            "Where the time goes (same files, in one process, engine functions called directly):",
            "",
            "| phase | seconds | share |",
            "| --- | ---: | ---: |",
        ]
        for name, value in phases.items():
            share = f"{value / total:.0%}" if name in counted else ""
            lines.append(f"| {name} | {value:.3f} | {share} |")
        lines += [f"| total of the shared phases | {total:.3f} | 100% |", ""]
    return lines


def _counted(phase: str) -> bool:
    return phase != "imports" and not phase.startswith("(")
