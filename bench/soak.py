"""Soak loops: the adversarial trials that are too slow for the test suite, run many times.

    python bench/soak.py --kill9 200 --signals 200 --parallel 20

- `--kill9 N`: a five-step run is SIGKILLed at a random moment; `runbook rollback --yes`
  must then undo exactly the steps that started, each once, in reverse order, and leave
  no process of the run behind.
- `--signals N`: a SIGTERM or SIGINT at a random moment; the run must end `aborted`
  (130) or finished, and its own rollback must undo exactly the steps that started.
- `--parallel N`: N runs on one target at once, N times; exactly one may run each time.

Every trial runs in a fresh state folder; a failed trial is printed with what it saw, and
the exit status is the number of failed trials (capped at 100). These are trials, not
timings: nothing here is measured, and nothing here runs in CI.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ENGINE = [sys.executable, "-m", "engine"]
STEPS = 5
PLAYBOOK = """\
apiVersion: runbook/v1
kind: Playbook
metadata: {{name: soak, version: 1.0.0, maturity: 2, owner: soak}}
inputs:
  dir: {{type: string, pattern: '^/[A-Za-z0-9._/-]+$'}}
targets: ["soak/one"]
steps:
{steps}
"""
STEP = """\
  - id: s{n}
    undo_if_interrupted: true
    shell: {{run: "echo s{n} >> {{{{ inputs.dir }}}}/done; sleep 0.0{delay}"}}
    undo: {{shell: {{run: "echo s{n} >> {{{{ inputs.dir }}}}/undone"}}}}
"""


def main() -> int:
    args = _arguments()
    rng = random.Random(args.seed)
    failures = 0
    failures += _trials("kill -9", args.kill9, lambda d: _kill9_trial(d, rng))
    failures += _trials("signal", args.signals, lambda d: _signal_trial(d, rng))
    failures += _trials("parallel", args.parallel, lambda d: _parallel_trial(d, rng))
    return min(failures, 100)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kill9", type=int, default=0, metavar="N")
    parser.add_argument("--signals", type=int, default=0, metavar="N")
    parser.add_argument("--parallel", type=int, default=0, metavar="N")
    parser.add_argument("--seed", type=int, default=1)
    return parser.parse_args()


def _trials(name: str, count: int, trial: Callable[[Path], str]) -> int:
    failed = 0
    for index in range(count):
        with tempfile.TemporaryDirectory(prefix="runbook-soak-") as folder:
            work = Path(folder)
            os.chmod(work, 0o700)
            problem = trial(work)
        if problem:
            failed += 1
            print(f"{name} trial {index + 1}: FAILED: {problem}")
    if count:
        print(f"{name}: {count - failed}/{count} trials held")
    return failed


def _setup(work: Path, rng: random.Random) -> tuple[Path, dict[str, str]]:
    steps = "".join(STEP.format(n=n, delay=rng.randint(1, 5)) for n in range(1, STEPS + 1))
    playbook = work / "soak.yaml"
    playbook.write_text(PLAYBOOK.format(steps=steps))
    playbook.chmod(0o600)
    env = {**os.environ, "RUNBOOK_HOME": str(work / "home"), "RUNBOOK_PLAIN": "1"}
    return playbook, env


def _lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def _started_steps(env: dict[str, str], run_id: str) -> list[str]:
    shown = subprocess.run(
        [*ENGINE, "show", run_id, "--output", "json"], capture_output=True, text=True, env=env
    )
    events = json.loads(shown.stdout)["events"]
    return [e["step_id"] for e in events if e["kind"] == "step_intent"]


def _only_run(env: dict[str, str]) -> str | None:
    listed = subprocess.run(
        [*ENGINE, "runs", "--output", "json"], capture_output=True, text=True, env=env
    )
    runs = [r for r in json.loads(listed.stdout) if r["mode"] == "live"]
    return str(runs[0]["run_id"]) if runs else None


def _kill9_trial(work: Path, rng: random.Random) -> str:
    playbook, env = _setup(work, rng)
    engine = subprocess.Popen(
        [*ENGINE, "run", str(playbook), "-i", f"dir={work}"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    time.sleep(rng.uniform(0.05, 0.6))
    engine.send_signal(signal.SIGKILL)
    engine.wait()
    run_id = _only_run(env)
    if run_id is None:
        return "" if not _lines(work / "done") else "a step ran without a recorded run"
    started = _started_steps(env, run_id)
    rolled = subprocess.run(
        [*ENGINE, "rollback", "--yes", run_id], capture_output=True, text=True, env=env
    )
    if rolled.returncode != 0:
        return f"rollback exited {rolled.returncode}: {rolled.stderr.strip()[-300:]}"
    return _exact(work, started)


def _signal_trial(work: Path, rng: random.Random) -> str:
    playbook, env = _setup(work, rng)
    engine = subprocess.Popen(
        [*ENGINE, "run", str(playbook), "-i", f"dir={work}"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    time.sleep(rng.uniform(0.05, 0.6))
    engine.send_signal(rng.choice([signal.SIGTERM, signal.SIGINT]))
    output, _ = engine.communicate(timeout=60)
    run_id = _only_run(env)
    status = _status(env, run_id)
    if engine.returncode == 0 or status == "completed":  # the signal came after the end
        return "" if _lines(work / "undone") == [] else "a completed run undid steps"
    if run_id is None:  # before the run started: nothing may have run
        return "" if _lines(work / "done") == [] else "a step ran without a recorded run"
    if engine.returncode != 130 or status != "aborted":
        return f"exit {engine.returncode}, run {status}: {output[-300:]}"
    return _exact(work, _started_steps(env, run_id) if run_id else [])


def _status(env: dict[str, str], run_id: str | None) -> str | None:
    if run_id is None:
        return None
    shown = subprocess.run(
        [*ENGINE, "show", run_id, "--output", "json"], capture_output=True, text=True, env=env
    )
    return str(json.loads(shown.stdout)["run"]["status"])


def _exact(work: Path, started: list[str]) -> str:
    undone = _lines(work / "undone")
    if undone != list(reversed(started)):
        return f"started {started}, undone {undone}"
    return ""


def _parallel_trial(work: Path, rng: random.Random) -> str:
    playbook, env = _setup(work, rng)
    command = [*ENGINE, "run", str(playbook), "-i", f"dir={work}"]
    piped = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "text": True}
    engines = [subprocess.Popen(command, env=env, **piped) for _ in range(4)]  # type: ignore[call-overload]
    outputs = [engine.communicate(timeout=120)[0] for engine in engines]
    codes = sorted(engine.returncode for engine in engines)
    done = _lines(work / "done")
    if codes.count(0) < 1 or set(codes) - {0, 5}:
        pairs = zip(engines, outputs, strict=True)
        odd = [out for engine, out in pairs if engine.returncode not in (0, 5)]
        return f"exit codes {codes}: {odd[0][-400:] if odd else ''}"
    ran = codes.count(0)
    if done != [f"s{n}" for _ in range(ran) for n in range(1, STEPS + 1)]:
        return f"steps interleaved or repeated: {done}"
    return ""


if __name__ == "__main__":
    sys.exit(main())
