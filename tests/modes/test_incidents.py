"""`--incident ID` on `runbook drill`: the drill joins the incident when it starts."""

from __future__ import annotations

import json
from pathlib import Path

from sli_helpers import run_cli
from test_drill import drill_json, write_drill


def test_a_drill_with_incident_is_a_member_and_starts_the_response(tmp_path: Path) -> None:
    path, _, _ = write_drill(tmp_path)
    opened = run_cli("incident", "open", "--title", "game day: state file")
    incident_id = opened.stdout.split()[-1]

    code, report = drill_json(path, "--incident", incident_id)

    assert code == 0, report
    shown = json.loads(run_cli("show", incident_id, "--output", "json").stdout)
    assert shown["runs"] == shown["attached_runs"] == [report["drill_id"]]
    assert shown["times"]["response_started"]["source"] == "record"
    refused = run_cli("drill", str(path), "--yes", "--incident", "i1999")
    assert refused.returncode == 2 and "no incident 'i1999'" in refused.stderr
    assert "Traceback" not in refused.stderr
