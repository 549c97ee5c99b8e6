"""Shared helpers: finding the tools, timing fresh processes, summarising samples."""

from __future__ import annotations

import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RUN_TIMEOUT = 900.0  # seconds; a hung peer is reported as failed, never waited on forever
ERROR_TAIL = 2000  # characters of a failing command's output kept verbatim


class ToolMissing(Exception):
    """A peer tool is not installed: reported as "not installed", never a crash."""


class RunFailed(Exception):
    """A measured command exited non-zero (or timed out); carries its output verbatim."""

    def __init__(self, argv: Sequence[str], returncode: int | None, output: str) -> None:
        self.argv = list(argv)
        self.returncode = returncode
        self.output = output
        code = "timed out" if returncode is None else f"exit {returncode}"
        super().__init__(f"{' '.join(self.argv)}: {code}\n{output}")


@dataclass(frozen=True)
class Tools:
    """Where each measured program lives (None: not installed)."""

    python: str
    bin_dir: Path
    runbook: list[str] | None
    ansible_playbook: str | None
    chaos: str | None
    extra_env: Mapping[str, str] = field(default_factory=dict)

    def runbook_argv(self) -> list[str]:
        if self.runbook is None:
            raise ToolMissing("runbook")
        return list(self.runbook)


def find_program(name: str, bin_dir: Path) -> str | None:
    """`name` next to the interpreter (the venv's bin/) first, then on PATH."""
    candidate = bin_dir / name
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    return shutil.which(name)


def discover(bin_dir: Path | None = None) -> Tools:
    """The interpreter running this script, and the tools installed beside it."""
    bin_dir = bin_dir or Path(sys.executable).parent
    runbook_script = find_program("runbook", bin_dir)
    extra_env: dict[str, str] = {}
    runbook: list[str] | None
    if runbook_script is not None:
        runbook = [runbook_script]
    elif _engine_importable():
        # No console script: fall back to `python -m engine` from the source checkout.
        runbook = [sys.executable, "-m", "engine"]
        extra_env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p
        )
    else:
        runbook = None
    return Tools(
        python=sys.executable,
        bin_dir=bin_dir,
        runbook=runbook,
        ansible_playbook=find_program("ansible-playbook", bin_dir),
        chaos=find_program("chaos", bin_dir),
        extra_env=extra_env,
    )


def _engine_importable() -> bool:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    probe = [sys.executable, "-c", "import click, yaml, jsonschema, engine.cli.app"]
    return subprocess.run(probe, env=env, capture_output=True, check=False).returncode == 0


def environment(tools: Tools, **overrides: str) -> dict[str, str]:
    """The environment every measured command gets: ours, plus overrides, no colours."""
    env = dict(os.environ)
    env.update(tools.extra_env)
    env.update({"NO_COLOR": "1", "TERM": "dumb"})
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # every tool reads its cached bytecode
    env.update(overrides)
    return env


@dataclass(frozen=True)
class Timing:
    """One fresh process: wall time and CPU time (user + system, with its children), s."""

    wall: float
    cpu: float
    output: str


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_run(
    argv: Sequence[str],
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    check: bool = True,
) -> Timing:
    """Times of one fresh process, stdin closed, output captured (no terminal).

    CPU time counts the process and every descendant it waited for; unlike wall time it
    hardly grows when other work competes for the cores, so it is the steadier figure
    on a shared machine.
    """
    cpu_before = _children_cpu()
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            list(argv),
            env=dict(env) if env is not None else None,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=RUN_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        output = exc.output.decode(errors="replace") if isinstance(exc.output, bytes) else ""
        raise RunFailed(argv, None, output[-ERROR_TAIL:]) from exc
    elapsed = time.perf_counter() - start
    cpu = _children_cpu() - cpu_before
    output = proc.stdout.decode(errors="replace")
    if check and proc.returncode != 0:
        raise RunFailed(argv, proc.returncode, output[-ERROR_TAIL:])
    return Timing(elapsed, cpu, output)


@dataclass(frozen=True)
class Summary:
    """Robust statistics of repeated wall times, in seconds."""

    median: float
    minimum: float
    maximum: float
    stdev: float
    samples: int

    def as_dict(self) -> dict[str, float | int]:
        return {
            "median_s": self.median,
            "min_s": self.minimum,
            "max_s": self.maximum,
            "stdev_s": self.stdev,
            "samples": self.samples,
        }


def summarise(samples: Sequence[float]) -> Summary:
    return Summary(
        median=statistics.median(samples),
        minimum=min(samples),
        maximum=max(samples),
        stdev=statistics.stdev(samples) if len(samples) > 1 else 0.0,
        samples=len(samples),
    )


def ms(seconds: float | None, digits: int = 1) -> str:
    return "—" if seconds is None else f"{seconds * 1000:.{digits}f}"


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b <= 0:
        return None
    return a / b


def fmt_ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}×"


def verdict(value: float | None, target: float) -> str:
    if value is None:
        return "n/a"
    return "met" if value <= target else "MISSED"


def version_of(argv: Sequence[str], env: Mapping[str, str] | None = None) -> str:
    """First version-looking token a tool prints, or "not installed"."""
    try:
        proc = subprocess.run(
            list(argv),
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "not installed"
    text = (proc.stdout + proc.stderr).decode(errors="replace")
    match = re.search(r"\d+\.\d+(?:\.\d+)?", text)
    return match.group(0) if match else text.strip().splitlines()[0] if text.strip() else "?"


def machine() -> dict[str, str | int]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cores": os.cpu_count() or 0,
        "cpu": cpu,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "python_executable": sys.executable,
    }


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
