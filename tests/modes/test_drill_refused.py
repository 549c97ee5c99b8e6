"""`runbook drill` refused before anything is injected: with `--output json` stdout is
still one JSON report (verdict `refused`, what is known of the playbook, the reasons at
`file:line:col`), stderr says why, the exit code is the refusal's (5 for a precondition
not met, 2 for a playbook that does not pass its checks or inputs that do not fit), and
the drill is kept in the ledger. A usage error on the command line is no drill."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sli_helpers import run_cli
from test_drill import log_lines, write_drill
from test_drills_kept import drills


def test_an_unhealthy_service_gets_a_refused_json_report(tmp_path: Path) -> None:
    path, state, log = write_drill(tmp_path)
    state.write_text("bad\n")

    done = run_cli("drill", str(path), "--yes", "--output", "json", timeout=60)

    assert done.returncode == 5, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["verdict"] == "refused" and report["exit_code"] == 5
    assert (report["playbook"], report["version"]) == ("drill-test", "1.2.0")
    assert report["baseline"]["verdict"] == "unhealthy"
    assert report["parts"] == []
    assert "the SLI is unhealthy before the drill" in report["findings"][0]
    assert "the SLI is unhealthy before the drill" in done.stderr
    assert log_lines(log) == []


def test_a_playbook_others_can_write_gets_a_refused_json_report(tmp_path: Path) -> None:
    path, state, log = write_drill(tmp_path)
    path.chmod(0o666)

    done = run_cli("drill", str(path), "--yes", "-o", "json", timeout=60)

    assert done.returncode == 5, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["verdict"] == "refused" and report["file"] == str(path)
    assert (report["playbook"], report["version"]) == ("drill-test", "1.2.0")
    assert "is writable by others" in report["findings"][0]
    assert f"`chmod go-w {path}`" in report["findings"][0]
    assert log_lines(log) == [] and state.read_text() == "good\n"
    (kept,) = drills()  # refused, and kept
    assert (kept["drill_id"], kept["playbook"]) == (report["drill_id"], "drill-test")


def test_the_text_report_of_a_refusal_stays_on_stderr(tmp_path: Path) -> None:
    path, state, _log = write_drill(tmp_path)
    state.write_text("bad\n")

    done = run_cli("drill", str(path), "--yes", timeout=60)

    assert done.returncode == 5
    assert "REFUSED" not in done.stdout and "unhealthy before the drill" in done.stderr


# A drill the operator asked for whose playbook does not pass its checks: (its text, its
# name and version as far as the YAML can be read, where the problem is).
NOT_CHECKED = {
    "yaml-syntax": (
        "apiVersion: runbook/v1\nkind: Playbook\nmetadata: {name: broken, version: 1.0.0\n",
        (None, None),
        (3, 11),
    ),
    "empty-file": ("", (None, None), (1, 1)),
    "schema": (
        "apiVersion: runbook/v1\nkind: Playbook\n"
        "metadata: {name: unknown-key, version: 2.0.1, maturity: 2, owner: tests}\n"
        "steps:\n  - id: a\n    irreversible: x\n    shell: {run: 'true'}\n    colour: red\n",
        ("unknown-key", "2.0.1"),
        (8, 5),
    ),
    "no-drill-section": (
        "apiVersion: runbook/v1\nkind: Playbook\n"
        "metadata: {name: no-drill, version: 0.3.0, maturity: 2, owner: tests}\n"
        "steps:\n  - id: a\n    irreversible: x\n    shell: {run: 'true'}\n",
        ("no-drill", "0.3.0"),
        (1, 1),
    ),
}


@pytest.mark.parametrize("case", sorted(NOT_CHECKED))
def test_a_playbook_that_fails_its_checks_is_a_refused_drill_report_and_record(
    tmp_path: Path, case: str
) -> None:
    text, (name, version), (line, col) = NOT_CHECKED[case]
    path = tmp_path / "pb.yaml"
    path.write_text(text)

    done = run_cli("drill", str(path), "--yes", "--output", "json", timeout=60)

    assert done.returncode == 2, done.stdout + done.stderr  # invalid playbook: exit 2
    assert "Traceback" not in done.stderr and f"{path}:{line}:{col}: " in done.stderr
    report = json.loads(done.stdout)
    assert (report["verdict"], report["exit_code"]) == ("refused", 2)
    assert (report["file"], report["playbook"], report["version"]) == (str(path), name, version)
    assert report["parts"] == [] and report["drill_id"].startswith("d")
    reason = report["refusal"][0]
    assert (reason["file"], reason["line"], reason["col"]) == (str(path), line, col)
    assert report["findings"][0].startswith(f"{path}:{line}:{col}: ")
    (kept,) = drills()
    assert (kept["drill_id"], kept["verdict"], kept["status"]) == (
        report["drill_id"],
        "refused",
        "refused",
    )
    assert kept["playbook"] == (name or str(path.resolve()))  # keyed by file when unnamed
    assert (kept["version"], kept["file"]) == (version or "", str(path.resolve()))
    shown = run_cli("show", kept["drill_id"], "--output", "json")
    assert shown.stdout == done.stdout


def test_inputs_that_do_not_fit_are_a_refused_drill_kept_with_the_playbook_s_name(
    tmp_path: Path,
) -> None:
    path, state, log = write_drill(tmp_path)

    done = run_cli("drill", str(path), "-i", "colour=red", "--yes", "-o", "json", timeout=60)

    assert done.returncode == 2, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert (report["playbook"], report["version"], report["exit_code"]) == (
        "drill-test",
        "1.2.0",
        2,
    )
    assert report["refusal"][0]["message"] == "unknown input 'colour'"
    assert "unknown input 'colour'" in done.stderr
    (kept,) = drills()
    assert (kept["drill_id"], kept["playbook"], kept["verdict"]) == (
        report["drill_id"],
        "drill-test",
        "refused",
    )
    assert log_lines(log) == [] and state.read_text() == "good\n"


def test_a_usage_error_on_the_command_line_is_no_drill_and_is_not_kept(tmp_path: Path) -> None:
    path, _, _ = write_drill(tmp_path)
    flags = run_cli("drill", str(path), "-i", "no-equals-sign", "-o", "json", timeout=60)
    missing = run_cli("drill", str(tmp_path / "missing.yaml"), "-o", "json", timeout=60)
    bad_input = run_cli("drill", str(path), "-i", "colour=red", "-o", "json", timeout=60)

    assert (flags.returncode, missing.returncode, bad_input.returncode) == (2, 2, 2)
    assert flags.stdout == missing.stdout == ""  # no drill, no report
    assert "expected NAME=VALUE" in flags.stderr and "does not exist" in missing.stderr
    assert [kept["drill_id"] for kept in drills()] == [json.loads(bad_input.stdout)["drill_id"]]


def test_a_refused_drill_of_an_unreadable_playbook_is_replayed_as_text(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("apiVersion: runbook/v1\nkind: Playbook\nmetadata: [\n")

    done = run_cli("drill", str(path), "--yes", timeout=60)

    assert done.returncode == 2 and "REFUSED" not in done.stdout, done.stdout + done.stderr
    (kept,) = drills()
    shown = run_cli("show", kept["drill_id"])
    assert shown.returncode == 0, shown.stderr
    title, verdict, finding = shown.stdout.splitlines()
    assert title == f"drill {kept['drill_id']} of {path}"
    assert verdict == "  verdict:    REFUSED: nothing was injected"
    assert finding.startswith(f"  finding:    {path}:4:1: YAML syntax error")
    listed = run_cli("drills", "--playbook", str(path))
    assert kept["drill_id"] in listed.stdout and str(path.resolve()) in listed.stdout


def a_ledger_others_can_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    monkeypatch.setenv("RUNBOOK_HOME", str(shared / "state"))
    return shared


def test_a_ledger_that_cannot_keep_the_drill_refuses_it_with_a_json_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, state, log = write_drill(tmp_path)
    shared = a_ledger_others_can_write(tmp_path, monkeypatch)

    done = run_cli("drill", str(path), "--yes", "--output", "json", timeout=60)

    assert done.returncode == 5, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert (report["verdict"], report["exit_code"], report["drill_id"]) == ("refused", 5, None)
    assert (report["playbook"], report["version"]) == ("drill-test", "1.2.0")
    assert f"the folder {shared} is writable by others" in report["refusal"][0]["message"]
    assert f"the folder {shared} is writable by others" in done.stderr
    assert log_lines(log) == [] and state.read_text() == "good\n"


def test_a_broken_playbook_and_a_ledger_that_cannot_keep_it_give_both_reasons(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("apiVersion: runbook/v1\nkind: Playbook\nmetadata: [\n")
    shared = a_ledger_others_can_write(tmp_path, monkeypatch)

    done = run_cli("drill", str(path), "--yes", "--output", "json", timeout=60)

    assert done.returncode == 2, done.stdout + done.stderr  # the playbook's reason first
    report = json.loads(done.stdout)
    assert report["drill_id"] is None  # not recorded
    playbook_reason, ledger_reason = report["refusal"]
    assert (playbook_reason["file"], playbook_reason["line"]) == (str(path), 4)
    assert f"the folder {shared} is writable by others" in ledger_reason["message"]
    assert f"{path}:4:1: YAML syntax error" in done.stderr
    assert f"the folder {shared} is writable by others" in done.stderr
