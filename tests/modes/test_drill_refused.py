"""`runbook drill --output json` refused before anything is injected: stdout is still
one JSON report (verdict `refused`), stderr says why, the exit code is 5."""

from __future__ import annotations

import json
from pathlib import Path

from sli_helpers import run_cli
from test_drill import log_lines, write_drill


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
    assert "is writable by others" in report["findings"][0]
    assert f"`chmod go-w {path}`" in report["findings"][0]
    assert log_lines(log) == [] and state.read_text() == "good\n"


def test_the_text_report_of_a_refusal_stays_on_stderr(tmp_path: Path) -> None:
    path, state, _log = write_drill(tmp_path)
    state.write_text("bad\n")

    done = run_cli("drill", str(path), "--yes", timeout=60)

    assert done.returncode == 5
    assert "REFUSED" not in done.stdout and "unhealthy before the drill" in done.stderr
