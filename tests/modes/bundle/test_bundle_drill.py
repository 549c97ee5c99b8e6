"""The bundle of a drill: the drill's verdict and its runs (inject, remediation, revert),
each with its events, SLI samples and playbook text; replay judges the remediation."""

from __future__ import annotations

import json
from pathlib import Path

from bundle_helpers import manifest, members
from sli_helpers import run_cli

DRILL = """\
apiVersion: runbook/v1
kind: Playbook
metadata: {{name: drill-bundle, version: 1.0.0, maturity: 2, owner: tests}}
sli:
  probe:
    command: {{run: "grep -qx good {state}"}}
  settle: 0s
  samples: 1
  interval: 200ms
  timeout: 5s
steps:
  - id: fix
    irreversible: writes the state the service should have
    shell: {{run: "echo good > {state}"}}
drill:
  inject:
    - id: break_it
      shell: {{run: "echo bad > {state}"}}
      undo:
        shell: {{run: "echo good > {state}"}}
  detect_within: 5s
"""


def test_a_drills_bundle_holds_its_runs_and_replays_its_remediation(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.write_text("good\n")
    path = tmp_path / "drill.yaml"
    path.write_text(DRILL.format(state=state))
    done = run_cli("drill", str(path), "--yes", "--output", "json", timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    part_ids = sorted(part["run_id"] for part in report["parts"])

    bundle = tmp_path / "drill.tar.gz"
    exported = run_cli("export", report["drill_id"], "-o", str(bundle))
    assert exported.returncode == 0, exported.stderr
    facts = manifest(bundle)
    assert facts["kind"] == "drill" and facts["drill"]["verdict"] == "passed"
    assert facts["drill"]["remediate_run"] in part_ids
    assert sorted(part["run"]["run_id"] for part in facts["parts"]) == part_ids
    found = members(bundle)
    for run_id in part_ids:
        assert f"runs/{run_id}/events.jsonl" in found and f"runs/{run_id}/sli.jsonl" in found
        assert f"runs/{run_id}/events.jsonl" in facts["files"]
    remediation = f"runs/{facts['drill']['remediate_run']}/sli.jsonl"
    assert [json.loads(line)["phase"] for line in found[remediation].splitlines()] == [
        "pre-check",
        "after fix",
    ]

    same = run_cli("replay", str(bundle), "--output", "json")
    assert same.returncode == 0, same.stdout + same.stderr
    assert json.loads(same.stdout)["run_id"] == facts["drill"]["remediate_run"]
    path.write_text(path.read_text().replace("  - id: fix\n", "  - id: fix\n    when: 'false'\n"))
    edited = run_cli("replay", str(bundle), "--output", "json")
    assert edited.returncode == 1
    differences = json.loads(edited.stdout)["differences"]
    assert ("when", "fix") in [(d["what"], d["step"]) for d in differences]
    (recovery,) = [d for d in differences if d["what"] == "stop-on-recovery"]
    assert recovery["recorded"] == "recovered after fix"  # no fix now: no sample after it
    assert recovery["now"] == "not recovered within the recorded samples"
