"""The postmortem of a run an alert started (a real `runbook serve`): the alert's times,
labels and source in the draft, the time to detect from its `startsAt` to the
notification's arrival, and its labels escaped."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

from serve_fixtures import Server, alert, notification, write_playbook
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
