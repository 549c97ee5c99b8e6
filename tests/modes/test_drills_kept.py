"""Drills are kept: `runbook drills` lists them, `runbook show DRILL_ID` replays the
report the drill printed, and the drill's runs name it as their parent. Real drills of
local playbooks whose SLI is a command probe reading a state file (see test_drill)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from sli_helpers import run_cli
from test_drill import INJECT_IRREVERSIBLE, drill_json, log_lines, write_drill


def listed(verb: str, *args: str) -> list[dict[str, Any]]:
    """What `runbook drills` or `runbook runs` lists, as JSON."""
    done = run_cli(verb, "--output", "json", *args)
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout))


def drills(*args: str) -> list[dict[str, Any]]:
    return listed("drills", *args)


def run_of(run_id: str) -> dict[str, Any]:
    shown = run_cli("show", run_id, "--output", "json")
    assert shown.returncode == 0, shown.stderr
    return dict(json.loads(shown.stdout)["run"])


def parent_of(run_id: str) -> str | None:
    parent = run_of(run_id)["parent_run"]
    return str(parent) if parent else None


def test_a_passed_drill_is_listed_with_its_verdict_timings_and_runs(tmp_path: Path) -> None:
    path, _, _ = write_drill(tmp_path)

    code, report = drill_json(path)

    assert code == 0, report
    (kept,) = drills()
    assert kept["drill_id"] == report["drill_id"] and kept["drill_id"].startswith("d")
    assert (kept["playbook"], kept["version"]) == ("drill-test", "1.2.0")
    assert (kept["verdict"], kept["status"]) == ("passed", "completed")
    assert kept["detected_after"] == report["detected_after"]
    assert kept["recovered_after"] == report["recovered_after"]
    assert kept["finished_at"] >= kept["started_at"]
    parts = {p["name"]: p["run_id"] for p in report["parts"]}
    runs = (kept["inject_run"], kept["remediate_run"], kept["revert_run"])
    assert runs == (parts["inject"], parts["remediate"], parts["revert"])
    assert kept["content_hash"] == run_of(parts["remediate"])["content_hash"]
    assert parent_of(parts["inject"]) == parent_of(parts["remediate"]) == kept["drill_id"]
    # the revert made of the inject's undos is a rollback of the inject run
    assert parent_of(parts["revert"]) == parts["inject"]


def test_show_drill_id_replays_the_report_the_drill_printed(tmp_path: Path) -> None:
    path, _, _ = write_drill(tmp_path)
    printed = run_cli("drill", str(path), "--yes", "--quiet", timeout=120)
    assert printed.returncode == 0, printed.stdout + printed.stderr
    drill_id = drills()[0]["drill_id"]

    shown = run_cli("show", drill_id)

    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith(f"drill {drill_id} of drill-test 1.2.0")
    assert printed.stdout.endswith(shown.stdout)  # after the runs' own outcome lines
    assert "  remediate   run r" in shown.stdout  # the linked runs


def test_show_drill_id_output_json_is_the_drill_s_json_report(tmp_path: Path) -> None:
    path, _, _ = write_drill(tmp_path)
    printed = run_cli("drill", str(path), "--yes", "--output", "json", timeout=120)
    drill_id = json.loads(printed.stdout)["drill_id"]

    shown = run_cli("show", drill_id[:14], "--output", "json")

    assert shown.returncode == 0, shown.stderr
    assert shown.stdout == printed.stdout


def test_a_refused_drill_is_kept_with_its_verdict(tmp_path: Path) -> None:
    path, state, _ = write_drill(tmp_path)
    state.write_text("bad\n")

    done = run_cli("drill", str(path), "--yes", "--output", "json", timeout=60)

    assert done.returncode == 5, done.stdout + done.stderr
    (kept,) = drills()
    assert (kept["verdict"], kept["status"]) == ("refused", "refused")
    assert kept["drill_id"] == json.loads(done.stdout)["drill_id"]
    assert (kept["inject_run"], kept["remediate_run"], kept["revert_run"]) == (None, None, None)
    shown = run_cli("show", kept["drill_id"])
    assert "REFUSED: nothing was injected" in shown.stdout


def test_a_drill_whose_inject_fails_is_kept_with_its_inject_run(tmp_path: Path) -> None:
    path, _, _ = write_drill(tmp_path, inject="exit 1")

    code, report = drill_json(path)

    assert code == 1, report
    (kept,) = drills()
    assert (kept["verdict"], kept["status"]) == ("inject_failed", "failed")
    assert kept["inject_run"] == report["parts"][0]["run_id"]
    assert (kept["remediate_run"], kept["revert_run"]) == (None, None)
    assert parent_of(kept["inject_run"]) == kept["drill_id"]


def test_declared_revert_runs_name_the_drill_as_their_parent(tmp_path: Path) -> None:
    path, _, _ = write_drill(
        tmp_path, inject_block=INJECT_IRREVERSIBLE, revert="echo good > {state}"
    )

    code, report = drill_json(path)

    assert code == 0, report
    (kept,) = drills()
    assert parent_of(kept["revert_run"]) == kept["drill_id"]


def test_drills_are_listed_newest_first_and_by_playbook(tmp_path: Path) -> None:
    path, state, _ = write_drill(tmp_path)
    state.write_text("bad\n")
    run_cli("drill", str(path), "--yes", timeout=60)  # refused
    state.write_text("good\n")
    drill_json(path)

    listed = drills()
    table = run_cli("drills")

    assert [d["verdict"] for d in listed] == ["passed", "refused"]
    assert drills("--playbook", "drill-test") == listed
    assert drills("--playbook", "another") == []
    header, *rows = table.stdout.splitlines()
    assert header.split()[:4] == ["DRILL", "PLAYBOOK", "VERSION", "VERDICT"]
    assert [row.split()[0] for row in rows] == [d["drill_id"] for d in listed]


DRILL_DIES = """\
import time
from engine.ledger import LEDGER_FILE, Ledger, RunInfo, default_home, new_drill_id

drill_id = new_drill_id()
with Ledger.open(default_home() / LEDGER_FILE) as ledger:
    ledger.start_drill(RunInfo(
        drill_id, "disk-cleanup", "1.0.0", "sha256:aaa", "pb.yaml", "drill", {}, "ci",
        "laptop", "0.1.0", time.time(),
    ))
print(drill_id)
"""


def test_recover_points_at_the_report_of_a_drill_whose_engine_died() -> None:
    """A drill's runs are undone by their own rollback; the drill itself has no playbook
    text to undo from, so `recover` points at its report, not at `rollback`."""
    started = subprocess.run(
        [sys.executable, "-c", DRILL_DIES], capture_output=True, text=True, env=os.environ.copy()
    )
    assert started.returncode == 0, started.stderr
    drill_id = started.stdout.strip()

    recovered = run_cli("recover")

    assert recovered.returncode == 0, recovered.stderr
    line = next(line for line in recovered.stdout.splitlines() if drill_id in line)
    assert f"`runbook show {drill_id}`" in line
    assert "rollback" not in line


def passed_drill(tmp_path: Path) -> tuple[str, dict[str, str]]:
    """A drill that passed: its id, and its runs by part."""
    code, report = drill_json(write_drill(tmp_path)[0])
    assert code == 0, report
    return report["drill_id"], {p["name"]: p["run_id"] for p in report["parts"]}


def test_runs_lists_a_drill_s_runs_with_the_drill_as_their_parent_not_the_drill(
    tmp_path: Path,
) -> None:
    drill_id, parts = passed_drill(tmp_path)

    runs = {run["run_id"]: run for run in listed("runs")}
    table = run_cli("runs")

    assert drill_id not in runs  # `runbook drills` lists the drill
    assert set(runs) == set(parts.values())
    assert runs[parts["inject"]]["parent_run"] == drill_id
    assert runs[parts["remediate"]]["parent_run"] == drill_id
    assert runs[parts["revert"]]["parent_run"] == parts["inject"]  # its rollback
    header, *rows = table.stdout.splitlines()
    assert header.split()[:6] == ["RUN", "PLAYBOOK", "VERSION", "MODE", "PARENT", "OUTCOME"]
    cells = {row.split()[0]: row.split() for row in rows}
    assert drill_id not in cells
    assert cells[parts["inject"]][3:5] == ["drill", drill_id]
    assert cells[parts["revert"]][3:5] == ["rollback", parts["inject"]]


def test_runs_mode_keeps_the_runs_of_one_mode(tmp_path: Path) -> None:
    _, parts = passed_drill(tmp_path)

    drill_runs = [run["run_id"] for run in listed("runs", "--mode", "drill")]
    rollbacks = [run["run_id"] for run in listed("runs", "--mode", "rollback")]

    assert drill_runs == [parts["remediate"], parts["inject"]]  # newest first
    assert rollbacks == [parts["revert"]]
    assert listed("runs", "--mode", "live") == []


def breaks_the_playbook(tmp_path: Path) -> str:
    """An inject that also spoils the playbook file: the drill's next run cannot load it."""
    return f"echo bad > {{state}}; echo 'oops: [' >> {tmp_path / 'drill.yaml'}"


def test_an_error_after_the_inject_stops_the_drill_reverts_and_keeps_it(
    tmp_path: Path,
) -> None:
    path, state, log = write_drill(tmp_path, inject=breaks_the_playbook(tmp_path))

    code, report = drill_json(path)

    assert code == 2, report  # the error's own: the playbook no longer loads
    assert report["verdict"] == "stopped" and report["exit_code"] == 2
    assert [p["name"] for p in report["parts"]] == ["inject", "revert"]
    assert "the drill stopped after the inject" in report["findings"][0]
    assert "YAML syntax error" in report["findings"][0]
    assert log_lines(log) == ["inject", "undo-inject"] and state.read_text() == "good\n"
    (kept,) = drills()
    assert (kept["drill_id"], kept["verdict"], kept["status"]) == (
        report["drill_id"],
        "stopped",
        "failed",
    )
    assert kept["revert_run"] == report["parts"][1]["run_id"]


def test_an_error_that_keeps_the_revert_from_running_is_a_revert_failure(
    tmp_path: Path,
) -> None:
    path, state, _ = write_drill(
        tmp_path,
        inject=breaks_the_playbook(tmp_path),
        inject_block=INJECT_IRREVERSIBLE,
        revert="echo good > {state}",
    )

    done = run_cli("drill", str(path), "--yes", "--quiet", timeout=120)

    assert done.returncode == 4, done.stdout + done.stderr
    assert "REVERT FAILED: the injected fault may still be in place" in done.stdout
    assert "YAML syntax error" in done.stderr and "Traceback" not in done.stderr
    assert state.read_text() == "bad\n"  # as the report says
    (kept,) = drills()
    assert (kept["verdict"], kept["status"]) == ("revert_failed", "rollback_failed")
    shown = run_cli("show", kept["drill_id"])
    assert "may still be in place; remove it by hand" in shown.stdout
