"""The postmortem of a run an alert started (a real `runbook serve`): the alert's times,
labels and source in the draft, the time to detect from its `startsAt` to the
notification's arrival, and its labels escaped."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from serve_fixtures import (
    Server,
    alert,
    notification,
    write_playbook,
    write_secret_label_playbook,
)
from sli_helpers import run_cli

XSS = "<img src=x onerror=alert(1)>"
SOURCE = "http://prometheus.example/graph?g0.expr=up"


def test_the_alert_that_started_a_run_is_its_impact_start_and_its_detection(
    tmp_path: Path, serve_factory: Callable[..., Server]
) -> None:
    write_playbook(tmp_path / "playbooks", tmp_path / "markers")
    server = serve_factory(tmp_path / "playbooks").start()
    fired = time.time() - 90
    starts_at = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(fired))
    sent = alert("ServiceDown", starts_at=starts_at, service="api", note=XSS)
    assert server.post(notification([sent])).status == 200
    (row,) = server.wait_settled(1)
    run_id = str(row["run_id"])

    text = run_cli("postmortem", run_id).stdout
    page = run_cli("postmortem", run_id, "--format", "html").stdout

    started = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(fired))
    assert f"| {started}.000 UTC | alert ServiceDown fired | <{SOURCE}> |" in text
    assert re.search(r"\| alert ServiceDown received; decision run \| <http", text)
    detect = next(line for line in text.splitlines() if "(TTD)" in line)
    assert re.match(
        r"- \*\*Time to detect \(TTD\):\*\* 1m3\d(\.\d+)?s: from the alert's startsAt to the"
        r" alert's notification received ",
        detect,
    ), detect
    assert "(the alert's startsAt)" in next(s for s in text.splitlines() if "Impact start" in s)
    assert f"  - alert ServiceDown (fingerprint {row['fingerprint']}) → decision run" in text
    assert "  - label service=api" in text
    assert "  - annotation summary: ServiceDown on api" in text
    assert "  - label note=\\<img src=x onerror=alert(1)\\>" in text
    assert f'<a href="{SOURCE}" rel="noreferrer">' in page
    assert "<img" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page


def test_the_alert_resolving_later_is_the_resolution(
    tmp_path: Path, serve_factory: Callable[..., Server]
) -> None:
    write_playbook(tmp_path / "playbooks", tmp_path / "markers")
    server = serve_factory(tmp_path / "playbooks").start()
    fired, ended = time.time() - 120, time.time() - 30
    firing = alert("ServiceDown", starts_at=iso(fired), service="api")
    assert server.post(notification([firing])).status == 200
    (row,) = server.wait_settled(1)
    resolved = {**firing, "status": "resolved", "endsAt": iso(ended)}
    assert server.post(notification([resolved])).status == 200
    server.wait_settled(2)

    text = run_cli("postmortem", str(row["run_id"])).stdout

    clock = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ended))
    assert f"| {clock}.000 UTC | alert ServiceDown resolved | <{SOURCE}> |" in text
    resolution = next(s for s in text.splitlines() if s.startswith("- **Resolved:**"))
    assert resolution.startswith(f"- **Resolved:** {clock}.000 UTC (the alert's endsAt) ")
    assert re.match(
        r"- \*\*Time to resolve \(TTR\):\*\* 1m30s: from the alert's startsAt to the"
        r" alert's endsAt",
        next(s for s in text.splitlines() if "(TTR)" in s),
    )


def iso(ts: float) -> str:
    """A time as Alertmanager writes it (whole seconds here)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(int(ts)))


def test_an_alert_label_that_gave_an_input_a_secrets_value_is_redacted_in_run_and_incident(
    tmp_path: Path, serve_factory: Callable[..., Server]
) -> None:
    canary = f"canary-{uuid.uuid4().hex[:12]}"
    folder = write_secret_label_playbook(tmp_path / "playbooks", tmp_path / "markers")
    server = serve_factory(folder, env={"LABEL_TOKEN": canary}).start()
    sent = alert("ServiceDown", service=canary)
    sent["generatorURL"] = f"{SOURCE}{{service=%22{canary}%22}}"
    assert server.post(notification([sent])).status == 200
    (row,) = server.wait_settled(1)
    assert row["state"] == "started", (row["reason"], server.log[-2000:])
    (incident,) = json.loads(server.cli("incidents", "--all", "--output", "json").stdout)
    story_ids = (str(row["run_id"]), incident["incident_id"])

    drafts = {
        (story_id, kind): run_cli("postmortem", story_id, "--format", kind)
        for story_id in story_ids
        for kind in ("md", "html")
    }

    for key, done in drafts.items():
        assert done.returncode == 0, (key, done.stderr)
        assert canary not in done.stdout, key
        assert "«redacted:service»" in done.stdout, key
        assert "alert ServiceDown fired" in done.stdout, key
    for story_id in story_ids:
        assert "  - label service=«redacted:service»" in drafts[(story_id, "md")].stdout


def test_an_alert_whose_clock_is_ahead_gives_no_time_to_detect_but_says_so(
    tmp_path: Path, serve_factory: Callable[..., Server]
) -> None:
    write_playbook(tmp_path / "playbooks", tmp_path / "markers")
    server = serve_factory(tmp_path / "playbooks").start()
    firing = alert("ServiceDown", starts_at=iso(time.time() + 300), service="api")
    assert server.post(notification([firing])).status == 200
    (row,) = server.wait_settled(1)
    resolved = {**firing, "status": "resolved", "endsAt": iso(time.time() + 200)}
    assert server.post(notification([resolved])).status == 200
    server.wait_settled(2)

    text = run_cli("postmortem", str(row["run_id"])).stdout

    for label, end in (("(TTD)", "the alert's notification received"), ("(TTR)", "endsAt")):
        line = next(s for s in text.splitlines() if label in s)
        assert " 0s" not in line, line
        assert re.search(rf"unknown: .*{end}.* is [0-9m.]+s before the alert's startsAt", line)
        assert line.endswith("_(to be written)_"), line
