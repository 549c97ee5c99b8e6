"""Playbooks and CLI helpers shared by the SLI tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

STEP = """\
  - id: step{n}
    shell:
      run: ["sh", "-c", "touch {markers}/step{n}; {action}"]
    undo:
      shell: {{run: ["rm", "-f", "{markers}/step{n}"]}}
    timeout: 10s
"""


def playbook(
    tmp: Path, sli: str, actions: dict[int, str], steps: int = 4, secrets: str = ""
) -> Path:
    """A level-2 playbook of `steps` mutating steps; step N also runs `actions[N]`;
    `secrets` is the YAML of a `secrets:` section."""
    markers = tmp / "markers"
    markers.mkdir(exist_ok=True)
    body = "".join(
        STEP.format(n=n, markers=markers, action=actions.get(n, "true"))
        for n in range(1, steps + 1)
    )
    text = (
        "apiVersion: runbook/v1\nkind: Playbook\n"
        "metadata: {name: sli-test, version: 1.0.0, maturity: 2, owner: tests}\n"
        f"{secrets}sli:\n{sli}steps:\n{body}"
    )
    path = tmp / "playbook.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def run_cli(*args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "engine", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=os.environ.copy(),
    )


def events(run_id: str) -> list[dict[str, Any]]:
    shown = run_cli("show", run_id, "--output", "json")
    assert shown.returncode == 0, shown.stderr
    return list(json.loads(shown.stdout)["events"])


def run_id_of(output: str) -> str:
    return next(line.split()[-1] for line in output.splitlines() if line.startswith("run id:"))


def samples(run_id: str) -> list[dict[str, Any]]:
    return [e["data"] for e in events(run_id) if e["kind"] == "sli_sample"]


def step_statuses(run_id: str) -> dict[str, str]:
    statuses = {}
    for event in events(run_id):
        if event["kind"] == "step_result":
            statuses[event["step_id"]] = event["data"]["status"]
        elif event["kind"] == "step_skipped":
            statuses[event["step_id"]] = "skipped"
    return statuses
