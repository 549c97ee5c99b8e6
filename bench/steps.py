"""Benchmark 3: N local `true` steps, end to end, through runbook and its peers.

Each tool runs a file of N steps that each execute `true` locally, as a fresh process
with no terminal. Two sizes N1 < N2 give the per-step cost (the slope) and the fixed
cost (the intercept): per_step = (T(N2) - T(N1)) / (N2 - N1), fixed = T(N1) - N1 * per_step.
"""

from __future__ import annotations

import json
import os
import statistics
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bench import playbooks, startup
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

TARGET_PER_STEP = 0.95  # runbook per-step / chaostoolkit per-step
TARGET_TEN_STEPS = 0.5  # runbook 10 steps end to end / chaostoolkit 10 steps


@dataclass
class Peer:
    key: str
    label: str
    sizes: tuple[int, int]
    available: bool
    # (n) -> argv; writes whatever file it needs under the peer's directory
    command: Callable[[int], list[str]]
    env: dict[str, str] = field(default_factory=dict)
    expect: str = ""  # text the output must contain (besides exit 0)


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _runbook(tools: Tools, root: Path) -> Callable[[int], list[str]]:
    def command(n: int) -> list[str]:
        file = _write(root / f"true-{n}.yaml", playbooks.true_steps_playbook(n))
        return [*tools.runbook_argv(), "run", str(file)]

    return command


def _chaos(tools: Tools, root: Path) -> Callable[[int], list[str]]:
    def command(n: int) -> list[str]:
        experiment = {
            "version": "1.0.0",
            "title": f"{n} true actions",
            "description": "benchmark: N process actions running `true`",
            "method": [
                {
                    "type": "action",
                    "name": f"a{i}",
                    "provider": {"type": "process", "path": "true", "arguments": []},
                }
                for i in range(n)
            ],
        }
        file = _write(root / f"true-{n}.json", json.dumps(experiment, indent=2))
        assert tools.chaos is not None
        # --no-version-check: no network call to the release server (none is reachable).
        return [
            tools.chaos,
            "--no-version-check",
            "--no-log-file",
            "run",
            "--journal-path",
            str(root / "journal.json"),
            str(file),
        ]

    return command


def _ansible(tools: Tools, root: Path, module: str) -> Callable[[int], list[str]]:
    def command(n: int) -> list[str]:
        play = [
            {
                "name": f"{n} x {module} true",
                "hosts": "all",
                "connection": "local",
                "gather_facts": False,
                "tasks": [{"name": f"t{i}", module: "true"} for i in range(n)],
            }
        ]
        file = _write(root / f"{module}-{n}.yml", yaml.safe_dump(play, sort_keys=False))
        assert tools.ansible_playbook is not None
        return [tools.ansible_playbook, "-i", "localhost,", str(file)]

    return command


def _python_loop(tools: Tools) -> Callable[[int], list[str]]:
    def command(n: int) -> list[str]:
        code = f"import subprocess\nfor _ in range({n}):\n    subprocess.run(['true'], check=True)"
        return [tools.python, "-c", code]

    return command


def _interpreter_of(script: str | None, fallback: str) -> str:
    """The Python a console script runs with (its shebang), for ansible's modules."""
    if script is None:
        return fallback
    try:
        with open(script, "rb") as handle:
            first = handle.readline().decode(errors="replace").strip()
    except OSError:
        return fallback
    if first.startswith("#!"):
        candidate = first[2:].strip().split()[0]
        if os.path.basename(candidate) != "env" and os.access(candidate, os.X_OK):
            return candidate
    return fallback


def peers(tools: Tools, workdir: Path, n1: int, large: tuple[int, int, int]) -> list[Peer]:
    """Each tool with its two sizes; `large` is N2 for runbook, chaostoolkit and the bare
    loop, for ansible raw, and for ansible shell (the slow ones run fewer steps)."""
    n2, ansible_raw_n2, ansible_shell_n2 = large
    ansible_env = {
        "ANSIBLE_PYTHON_INTERPRETER": _interpreter_of(tools.ansible_playbook, tools.python),
        "ANSIBLE_LOCAL_TEMP": str(workdir / "ansible" / "tmp"),
        "ANSIBLE_REMOTE_TMP": str(workdir / "ansible" / "remote"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "ANSIBLE_LOCALHOST_WARNING": "0",
    }
    has_ansible = tools.ansible_playbook is not None
    return [
        Peer(
            "runbook",
            "runbook run",
            (n1, n2),
            tools.runbook is not None,
            _runbook(tools, workdir / "runbook"),
            {"RUNBOOK_HOME": str(workdir / "runbook" / "home")},
            "completed",
        ),
        Peer(
            "chaostoolkit",
            "chaos run (process actions)",
            (n1, n2),
            tools.chaos is not None,
            _chaos(tools, workdir / "chaos"),
            {},
            "completed",
        ),
        Peer(
            "ansible_raw",
            "ansible-playbook, raw: true",
            (n1, ansible_raw_n2),
            has_ansible,
            _ansible(tools, workdir / "ansible", "raw"),
            ansible_env,
            "failed=0",
        ),
        Peer(
            "ansible_shell",
            "ansible-playbook, shell: true",
            (n1, ansible_shell_n2),
            has_ansible,
            _ansible(tools, workdir / "ansible", "shell"),
            ansible_env,
            "failed=0",
        ),
        Peer(
            "python_loop",
            "bare python subprocess.run loop",
            (n1, n2),
            True,
            _python_loop(tools),
        ),
    ]


def run(
    tools: Tools, workdir: Path, n1: int, large: tuple[int, int, int], repeat: int
) -> dict[str, Any]:
    all_peers = peers(tools, workdir, n1, large)
    live = [p for p in all_peers if p.available]
    samples: dict[tuple[str, int], list[float]] = defaultdict(list)
    cpu: dict[tuple[str, int], list[float]] = defaultdict(list)
    errors: dict[str, str] = {}
    commands = {(p.key, n): p.command(n) for p in live for n in p.sizes}
    log(f"[steps] {len(live)} tools x 2 sizes x {repeat} runs (+1 warm-up each), interleaved")
    for round_no in range(repeat + 1):
        for peer in live:
            for n in peer.sizes:
                if peer.key in errors or (round_no == 0 and n != peer.sizes[0]):
                    continue  # warm-up round: the small size only
                env = environment(tools, **peer.env)
                try:
                    timing = timed_run(commands[peer.key, n], env)
                except (RunFailed, OSError) as exc:
                    errors[peer.key] = str(exc)
                    log(f"[steps] {peer.key} failed: {str(exc)[:300]}")
                    continue
                if peer.expect and peer.expect not in timing.output:
                    errors[peer.key] = f"output lacks {peer.expect!r}:\n{timing.output[-2000:]}"
                    continue
                if round_no > 0:
                    samples[peer.key, n].append(timing.wall)
                    cpu[peer.key, n].append(timing.cpu)
        log(f"[steps] round {round_no}/{repeat} done")
    rows = [_row(peer, samples, cpu, errors) for peer in all_peers]
    run_imports: dict[str, Any] | None = None
    runbook_peer = all_peers[0]
    if runbook_peer.available and "runbook" not in errors:
        file = commands["runbook", n1][-1]
        env = environment(tools, **runbook_peer.env)
        run_imports = startup.importtime(
            tools, max(1, min(repeat, 5)), arguments=("run", file), env=env
        )
        run_imports["command"] = f"runbook run ({n1} true steps)"
    by_key = {row["key"]: row for row in rows}
    rb, ch, py = by_key["runbook"], by_key["chaostoolkit"], by_key["python_loop"]
    per_step_ratio = ratio(rb.get("per_step_s"), ch.get("per_step_s"))
    ten_ratio = ratio(rb.get("t_n1_s"), ch.get("t_n1_s")) if n1 == 10 else None
    cpu_per_step_ratio = ratio(rb.get("cpu_per_step_s"), ch.get("cpu_per_step_s"))
    cpu_ten_ratio = ratio(rb.get("cpu_n1_s"), ch.get("cpu_n1_s")) if n1 == 10 else None
    overhead = None
    if rb.get("per_step_s") is not None and py.get("per_step_s") is not None:
        overhead = rb["per_step_s"] - py["per_step_s"]
    return {
        "repeat": repeat,
        "rows": rows,
        "runbook_overhead_per_step_s": overhead,
        "runbook_run_importtime": run_imports,
        "cpu_ratios": {"per_step": cpu_per_step_ratio, "ten_steps": cpu_ten_ratio},
        "targets": [
            {
                "name": "runbook per-step / chaostoolkit per-step",
                "limit": TARGET_PER_STEP,
                "value": per_step_ratio,
                "verdict": verdict(per_step_ratio, TARGET_PER_STEP),
            },
            {
                "name": "runbook 10 steps end to end / chaostoolkit 10 steps",
                "limit": TARGET_TEN_STEPS,
                "value": ten_ratio,
                "verdict": verdict(ten_ratio, TARGET_TEN_STEPS),
            },
        ],
    }


def _row(
    peer: Peer,
    samples: dict[tuple[str, int], list[float]],
    cpu: dict[tuple[str, int], list[float]],
    errors: dict[str, str],
) -> dict[str, Any]:
    n1, n2 = peer.sizes
    row: dict[str, Any] = {"key": peer.key, "tool": peer.label, "n1": n1, "n2": n2}
    if not peer.available:
        row["status"] = "not installed"
        return row
    if peer.key in errors:
        row.update(status="failed", error=errors[peer.key])
        return row
    s1, s2 = summarise(samples[peer.key, n1]), summarise(samples[peer.key, n2])
    per_step = (s2.median - s1.median) / (n2 - n1)
    row.update(
        status="ok",
        t_n1_s=s1.median,
        t_n2_s=s2.median,
        t_n1=s1.as_dict(),
        t_n2=s2.as_dict(),
        per_step_s=per_step,
        fixed_s=s1.median - n1 * per_step,
    )
    c1, c2 = statistics.median(cpu[peer.key, n1]), statistics.median(cpu[peer.key, n2])
    cpu_per_step = (c2 - c1) / (n2 - n1)
    row.update(
        cpu_n1_s=c1, cpu_n2_s=c2, cpu_per_step_s=cpu_per_step, cpu_fixed_s=c1 - n1 * cpu_per_step
    )
    return row


def markdown(result: dict[str, Any]) -> list[str]:
    lines = [
        "## 3. Step execution: N local `true` steps, end to end",
        "",
        f"Median of {result['repeat']} interleaved runs per tool and size; "
        "per step = (T(N2) − T(N1)) / (N2 − N1); fixed = T(N1) − N1 × per step.",
        "",
        "| tool | N1 | T(N1) ms | N2 | T(N2) ms | per step ms | fixed ms "
        "| CPU per step ms | CPU fixed ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in result["rows"]:
        if row["status"] != "ok":
            lines.append(
                f"| {row['tool']} | {row['n1']} | {row['status']} | {row['n2']} | | | | | |"
            )
            continue
        lines.append(
            f"| {row['tool']} | {row['n1']} | {ms(row['t_n1_s'], 0)} | {row['n2']} | "
            f"{ms(row['t_n2_s'], 0)} | {ms(row['per_step_s'], 2)} | {ms(row['fixed_s'], 0)} | "
            f"{ms(row['cpu_per_step_s'], 2)} | {ms(row['cpu_fixed_s'], 0)} |"
        )
    lines.append("")
    for target in result["targets"]:
        lines.append(
            f"- Target: {target['name']} ≤ {target['limit']} → "
            f"**{fmt_ratio(target['value'])} ({target['verdict']})**"
        )
    cpu_ratios = result.get("cpu_ratios", {})
    per_step, ten = cpu_ratios.get("per_step"), cpu_ratios.get("ten_steps")
    lines.append(
        "- Same ratios in CPU time (steadier under load): "
        f"per step {fmt_ratio(per_step)}, 10 steps {fmt_ratio(ten)}"
    )
    overhead = result.get("runbook_overhead_per_step_s")
    if overhead is not None:
        lines.append(
            f"- runbook's own cost per step over a bare `subprocess.run`: {ms(overhead, 2)} ms"
        )
    lines.append("")
    if result.get("runbook_run_importtime"):
        imp = result["runbook_run_importtime"]
        lines += startup.importtime_markdown(imp, f"`{imp.get('command', 'runbook run')}`", 10)
    for row in result["rows"]:
        if row["status"] == "failed":
            lines += [f"{row['tool']} failed (verbatim):", "", "```", row["error"], "```", ""]
    return lines
