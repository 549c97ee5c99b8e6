"""`runbook postmortem INCIDENT_ID`: the draft of an incident `runbook serve` opened and
people worked on — every alert of it, every member run on one timeline and one chart,
the notes, and its times as the incident holds them (a time a human set marked so)."""

from __future__ import annotations

import base64
import json
import re
import time
import urllib.parse
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from serve_fixtures import Server, alert, notification, write_playbook
from sli_helpers import run_cli

BY_HUMAN = "_(set by a human)_"


def iso(ts: float) -> str:
    """A time as Alertmanager writes it (whole seconds here)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(int(ts)))


def clock(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(int(ts)))


def line_of(text: str, start: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(start))


def incident_of_two_alerts(tmp_path: Path, serve_factory: Callable[..., Server]) -> Any:
    """An incident of two alerts of one group, each answered by a run, with a note."""
    write_playbook(tmp_path / "playbooks", tmp_path / "markers")
    server = serve_factory(tmp_path / "playbooks").start()
    fired = time.time() - 300
    first = alert("ServiceDown", starts_at=iso(fired), service="api")
    assert server.post(notification([first])).status == 200
    server.wait_settled(1)
    second = alert("ServiceDown", starts_at=iso(fired + 60), service="web")
    assert server.post(notification([first, second])).status == 200
    settled = server.wait_settled(3)
    listed = server.cli("incidents", "--all", "--output", "json")
    (incident,) = json.loads(listed.stdout)
    noted = server.cli("incident", "note", incident["incident_id"], "rolled back the deploy")
    assert noted.returncode == 0, noted.stderr
    return incident, [row for row in settled if row["decision"] == "run"], fired


def test_an_incident_draft_tells_every_alert_run_and_note_and_its_own_times(
    tmp_path: Path, serve_factory: Callable[..., Server]
) -> None:
    incident, runs, fired = incident_of_two_alerts(tmp_path, serve_factory)
    incident_id = incident["incident_id"]
    resolve = run_cli("incident", "resolve", incident_id)
    assert resolve.returncode == 0, resolve.stderr
    shown = json.loads(run_cli("show", incident_id, "--output", "json").stdout)
    resolved_at = datetime.fromisoformat(shown["times"]["resolved"]["at"]).timestamp()

    done = run_cli("postmortem", incident_id)
    page = run_cli("postmortem", incident_id, "--format", "html").stdout

    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    text = done.stdout
    assert text.startswith(f"# Postmortem: ServiceDown on api (incident {incident_id})\n")
    assert len(runs) == 2
    for row in runs:
        assert f"| run {row['run_id']} (hook) started | `runbook show {row['run_id']}` |" in text
    assert f"| {clock(fired)}.000 UTC | alert ServiceDown fired |" in text
    assert f"| {clock(fired + 60)}.000 UTC | alert ServiceDown fired |" in text
    assert "  - label service=api" in text and "  - label service=web" in text
    assert "  - annotation summary: ServiceDown on web" in text
    assert re.search(r"\| note by [^|]+: rolled back the deploy \|", text)
    assert line_of(text, "- **Impact start:**") == (
        f"- **Impact start:** {clock(fired)}.000 UTC (the earliest alert's startsAt)"
        " _(from the record)_"
    )
    resolved = line_of(text, "- **Resolved:**")
    assert resolved.startswith(f"- **Resolved:** {clock(resolved_at)}.")
    assert resolved.endswith(f" UTC (resolved set by a human) {BY_HUMAN}")
    ttr = line_of(text, "- **Time to resolve (TTR):**")
    assert ttr.endswith(f"from the earliest alert's startsAt to resolved set by a human {BY_HUMAN}")
    assert re.match(r"- \*\*Time to resolve \(TTR\):\*\* 5m\d", ttr), ttr
    assert line_of(text, "- **Mitigated:**").endswith("_(from the record)_")
    assert f"| resolved set by a human | `runbook show {incident_id}` |" in text
    svg = page[page.index('<figure class="chart from-record" id="sli-chart">') :]
    svg = svg[: svg.index("</svg>")]
    assert svg.count("step fix") >= 2  # each run's step on the one time axis
    assert 'class="by-human"' in page and 'class="badge">set by a human<' in page


def test_a_secret_in_an_alert_label_never_reaches_a_postmortem(
    tmp_path: Path, serve_factory: Callable[..., Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    canary = f"canary-{uuid.uuid4().hex[:12]}/+"
    forms = {
        "raw": canary,
        "base64": base64.b64encode(canary.encode()).decode(),
        "url": urllib.parse.quote(canary, safe=""),
    }
    write_playbook(
        tmp_path / "playbooks", tmp_path / "markers", extra="secrets:\n  token: {env: PM_TOKEN}\n"
    )
    server = serve_factory(tmp_path / "playbooks", env={"PM_TOKEN": canary}).start()
    fired = alert("ServiceDown", service="api", **forms)
    fired["annotations"] = {"description": f"token {canary} leaked", **forms}
    assert server.post(notification([fired])).status == 200
    (row,) = server.wait_settled(1)
    assert row["decision"] == "run", row
    (incident,) = json.loads(server.cli("incidents", "--all", "--output", "json").stdout)
    monkeypatch.setenv("PM_TOKEN", canary)

    drafts = {
        (story_id, form): run_cli("postmortem", story_id, "--format", form)
        for story_id in (str(row["run_id"]), incident["incident_id"])
        for form in ("md", "html")
    }

    for key, done in drafts.items():
        assert done.returncode == 0, (key, done.stderr)
        for name, value in forms.items():
            assert value not in done.stdout, (key, name)
        assert "redacted:token" in done.stdout, key
        assert "label service=api" in done.stdout, key  # what held no secret is kept


def test_an_approved_proposal_and_a_record_time_left_out_are_told(
    tmp_path: Path, serve_factory: Callable[..., Server]
) -> None:
    write_playbook(tmp_path / "playbooks", tmp_path / "markers", level=2)  # proposed
    server = serve_factory(tmp_path / "playbooks").start()
    assert server.post(notification([alert("ServiceDown", service="api")])).status == 200
    (proposed,) = server.wait_settled(1)
    (incident,) = json.loads(server.cli("incidents", "--all", "--output", "json").stdout)
    incident_id = incident["incident_id"]
    early = run_cli("incident", "set", incident_id, "--mitigated", "now")
    assert early.returncode == 0, early.stderr  # the run approved next starts after it
    approved = server.cli("approve", proposed["trigger_id"], "--yes", "--quiet")
    assert approved.returncode == 0, approved.stderr
    (run_id,) = json.loads(run_cli("show", incident_id, "--output", "json").stdout)["runs"]

    text = run_cli("postmortem", incident_id).stdout

    proposal = f"proposal {proposed['trigger_id']} of fix-service approved by "
    assert re.search(rf"\| {re.escape(proposal)}\S+; run {run_id} \| `runbook show", text)
    assert re.search(rf"  - {re.escape(proposal)}\S+; run {run_id}$", text, re.MULTILINE)
    response = line_of(text, "- **Response started:**")
    assert response.startswith("- **Response started:** unknown (the record's response started ")
    assert " is after mitigated " in response
    assert response.endswith(": to be written _(to be written)_")
    assert line_of(text, "- **Mitigated:**").endswith(BY_HUMAN)
