"""`runbook drill`: inject, detect, remediate, always revert, report. The "service" is a
state file read by a command probe, so every phase is observable through files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sli_helpers import events, run_cli
from tree import REPO, TESTS

SLI = """\
sli:
  probe:
    command: {{run: "grep -qx good {state}"}}
  settle: 0s
  samples: 1
  interval: 200ms
  timeout: 5s
"""

INJECT_WITH_UNDO = """\
  inject:
    - id: break_it
      shell: {{run: "echo inject >> {log}; {inject}"}}
      undo:
        shell: {{run: "echo undo-inject >> {log}; echo good > {state}"}}
"""

INJECT_IRREVERSIBLE = """\
  inject:
    - id: break_it
      irreversible: the drill's revert puts it back
      shell: {{run: "echo inject >> {log}; {inject}"}}
"""


def write_drill(
    tmp: Path,
    *,
    inject: str = "echo bad > {state}",
    fix: str = "echo good > {state}",
    detect: str = "5s",
    recover: str | None = None,
    inject_block: str = INJECT_WITH_UNDO,
    revert: str | None = None,
) -> tuple[Path, Path, Path]:
    state, log = tmp / "state", tmp / "log"
    state.write_text("good\n")
    fmt = {"state": state, "log": log}
    drill = "drill:\n" + inject_block.format(inject=inject.format(**fmt), **fmt)
    if revert is not None:
        drill += "  revert:\n    - id: put_back\n      irreversible: restores the drill's state\n"
        drill += f'      shell: {{run: "echo revert >> {log}; {revert.format(**fmt)}"}}\n'
    drill += f"  detect_within: {detect}\n" + (f"  recover_within: {recover}\n" if recover else "")
    text = (
        "apiVersion: runbook/v1\nkind: Playbook\n"
        "metadata: {name: drill-test, version: 1.2.0, maturity: 2, owner: tests}\n"
        + SLI.format(state=state)
        + "steps:\n  - id: fix\n    irreversible: writes the state the service should have\n"
        + f'    shell: {{run: "echo fix >> {log}; {fix.format(**fmt)}"}}\n'
        + drill
    )
    path = tmp / "drill.yaml"
    path.write_text(text)
    return path, state, log


def drill_json(path: Path, *args: str) -> tuple[int, dict[str, Any]]:
    done = run_cli("drill", str(path), "--yes", "--output", "json", *args, timeout=120)
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, json.loads(done.stdout)


def log_lines(log: Path) -> list[str]:
    return log.read_text().split() if log.exists() else []


def start_drill_until_injected(path: Path, log: Path) -> subprocess.Popen[str]:
    """`runbook drill PATH --yes -o json` in the background, once its inject has run."""
    engine = subprocess.Popen(
        [sys.executable, "-m", "engine", "drill", str(path), "--yes", "-o", "json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy(),
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while "inject" not in log_lines(log) and time.monotonic() < deadline:
        time.sleep(0.05)
    return engine


def test_the_fault_is_detected_the_playbook_recovers_and_the_fault_is_reverted(
    tmp_path: Path,
) -> None:
    path, state, log = write_drill(tmp_path)

    code, report = drill_json(path)

    assert code == 0, report
    assert report["verdict"] == "passed"
    assert report["baseline"]["verdict"] == "healthy"
    assert 0 <= report["detected_after"] < 5
    assert report["recovered_after"] >= report["detected_after"]
    assert [p["name"] for p in report["parts"]] == ["inject", "remediate", "revert"]
    assert [p["outcome"] for p in report["parts"]] == ["completed", "recovered", "completed"]
    assert log_lines(log) == ["inject", "fix", "undo-inject"]  # undo of inject, after the fix
    assert state.read_text() == "good\n"
    modes = {json.loads(run_cli("show", p["run_id"], "-o", "json").stdout)["run"]["mode"]
             for p in report["parts"]}  # fmt: skip
    assert modes == {"drill", "rollback"}  # the revert is a rollback of the inject run


def test_the_text_report_names_each_part_and_the_timings(tmp_path: Path) -> None:
    path, _, _ = write_drill(tmp_path)

    done = run_cli("drill", str(path), "--yes", "--quiet", timeout=120)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "verdict:    PASSED" in done.stdout
    assert "detection:  " in done.stdout and "(limit 5s)" in done.stdout
    for part in ("inject", "remediate", "revert"):
        assert f"  {part} " in done.stdout


def test_a_fault_the_sli_cannot_see_is_not_detected_and_is_still_reverted(
    tmp_path: Path,
) -> None:
    path, _state, log = write_drill(tmp_path, inject="echo bad > {state}.elsewhere", detect="1s")

    began = time.monotonic()
    code, report = drill_json(path)

    assert code == 3, report
    assert report["verdict"] == "not_detected"
    assert report["detected_after"] is None
    assert len(report["samples"]) >= 3  # sampled every 200ms for 1s, all healthy
    assert {s["verdict"] for s in report["samples"]} == {"healthy"}
    assert [p["name"] for p in report["parts"]] == ["inject", "revert"]  # no remediation
    assert log_lines(log) == ["inject", "undo-inject"]
    assert time.monotonic() - began < 30
    assert "would not have fired" in report["findings"][0]


def test_a_playbook_that_does_not_fix_the_fault_fails_the_drill_and_reverts(
    tmp_path: Path,
) -> None:
    path, state, log = write_drill(tmp_path, fix="true")

    code, report = drill_json(path)

    assert code == 3, report
    assert report["verdict"] == "not_recovered"
    assert report["parts"][1]["outcome"] == "not_recovered"
    assert log_lines(log) == ["inject", "fix", "undo-inject"]
    assert state.read_text() == "good\n"  # the fault is out again


def test_recovery_slower_than_recover_within_fails_the_drill(tmp_path: Path) -> None:
    path, _, _ = write_drill(tmp_path, fix="sleep 1.5; echo good > {state}", recover="1s")

    code, report = drill_json(path)

    assert code == 3, report
    assert report["verdict"] == "not_recovered"
    assert report["recovered_after"] > 1
    assert "later than recover_within 1s" in report["findings"][0]


def test_an_unhealthy_service_is_refused_before_anything_is_injected(tmp_path: Path) -> None:
    path, state, log = write_drill(tmp_path)
    state.write_text("bad\n")

    done = run_cli("drill", str(path), "--yes", timeout=60)

    assert done.returncode == 5, done.stdout + done.stderr
    assert "the SLI is unhealthy before the drill" in done.stderr
    assert "Traceback" not in done.stderr
    assert not log.exists()


def test_declared_revert_steps_take_the_fault_out(tmp_path: Path) -> None:
    path, state, log = write_drill(
        tmp_path, inject_block=INJECT_IRREVERSIBLE, revert="echo good > {state}", fix="true"
    )

    code, report = drill_json(path)

    assert code == 3, report  # the fix does nothing...
    assert log_lines(log) == ["inject", "fix", "revert"]  # ...but the revert still ran
    assert state.read_text() == "good\n"


def test_a_failed_revert_says_the_fault_may_still_be_in_place(tmp_path: Path) -> None:
    path, state, _ = write_drill(
        tmp_path, inject_block=INJECT_IRREVERSIBLE, revert="exit 1", fix="true"
    )

    done = run_cli("drill", str(path), "--yes", timeout=120)

    assert done.returncode == 4, done.stdout + done.stderr
    assert "REVERT FAILED" in done.stdout
    assert "may still be in place" in done.stdout
    assert state.read_text() == "bad\n"


def test_an_irreversible_inject_without_a_revert_is_refused_before_injecting(
    tmp_path: Path,
) -> None:
    path, _, log = write_drill(tmp_path, inject_block=INJECT_IRREVERSIBLE)

    done = run_cli("drill", str(path), "--yes", timeout=60)

    assert done.returncode == 2, done.stdout + done.stderr
    assert "'break_it' has no undo and there is no drill.revert" in done.stderr
    assert "Traceback" not in done.stderr
    assert not log.exists()


def test_a_playbook_without_a_drill_is_a_usage_error() -> None:
    demo = TESTS / "playbooks" / "valid"
    without = next(p for p in sorted(demo.glob("*.yaml")) if "drill:" not in p.read_text())

    done = run_cli("drill", str(without), timeout=60)

    assert done.returncode == 2, done.stdout + done.stderr
    assert "has no drill.inject steps" in done.stderr


def test_sigterm_while_waiting_for_detection_still_reverts(tmp_path: Path) -> None:
    path, _state, log = write_drill(tmp_path, inject="echo bad > {state}.elsewhere", detect="60s")
    engine = start_drill_until_injected(path, log)
    time.sleep(0.5)  # into the detection wait

    engine.send_signal(signal.SIGTERM)
    out, err = engine.communicate(timeout=30)

    assert engine.returncode == 130, out + err
    report = json.loads(out)
    assert report["verdict"] == "aborted"
    assert log_lines(log) == ["inject", "undo-inject"]
    revert = report["parts"][-1]
    assert revert["name"] == "revert" and revert["outcome"] == "completed"
    assert any(e["kind"] == "undo_result" for e in events(revert["run_id"]))


def test_the_shipped_demo_playbook_passes_its_drill(tmp_path: Path) -> None:
    demo = REPO / "playbooks" / "demo" / "disk-cleanup-demo.yaml"
    (tmp_path / "disk").mkdir()  # an empty disk: the SLI is healthy before the drill

    code, report = drill_json(demo, "-i", f"workdir={tmp_path}", "-i", "fail_at=none")

    assert code == 0, report
    assert report["verdict"] == "passed"
    assert report["parts"][1]["outcome"] == "recovered"
    assert not (tmp_path / "disk").exists()  # drill.revert removed the demo data


def test_a_drill_of_a_playbook_others_can_write_is_refused_before_the_inject(
    tmp_path: Path,
) -> None:
    path, state, log = write_drill(tmp_path)
    path.chmod(0o666)

    done = run_cli("drill", str(path), "--yes", timeout=120)

    assert done.returncode == 5, done.stdout + done.stderr
    assert f"playbook {path}: the file {path} is writable by others" in done.stderr
    assert f"`chmod go-w {path}`" in done.stderr
    assert log_lines(log) == [] and state.read_text() == "good\n"


def test_the_drill_holds_its_targets_from_the_baseline_to_the_revert(tmp_path: Path) -> None:
    path, _state, log = write_drill(tmp_path, inject="echo bad > {state}.elsewhere", detect="3s")
    path.write_text(path.read_text().replace("sli:\n", 'targets: ["svc/drill-test"]\nsli:\n', 1))
    engine = start_drill_until_injected(path, log)

    between = run_cli("run", str(path), "--yes", "--force")  # while the drill waits to detect
    out, err = engine.communicate(timeout=60)

    assert between.returncode == 5, between.stdout + between.stderr
    assert "target 'svc/drill-test' is locked by run drill-r" in between.stdout
    assert engine.returncode == 3, out + err
    report = json.loads(out)
    assert [p["name"] for p in report["parts"]] == ["inject", "revert"]
    assert log_lines(log) == ["inject", "undo-inject"]  # the other run's `fix` never ran
    for part in report["parts"]:
        [taken] = [e["data"] for e in events(part["run_id"]) if e["kind"] == "lock_taken"]
        assert taken["held_by"].startswith("drill-r")
    assert json.loads(run_cli("locks", "-o", "json").stdout) == []
