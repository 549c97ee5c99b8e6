"""An input's pattern meets an alert's labels, which anyone who can push a metric label
writes: `runbook serve` decides on a hostile label at once, and keeps deciding."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from serve_fixtures import Server, alert, notification, write_playbook

ServeFactory = Callable[..., Server]
BACKTRACKING = r"^(\w+\s?)+$"  # innocent-looking; 2^n ways to split n word characters


def test_a_hostile_label_is_refused_at_once_and_the_next_alert_still_runs(
    tmp_path: Path, serve_factory: ServeFactory
) -> None:
    markers = tmp_path / "markers"
    path = write_playbook(tmp_path / "playbooks", markers)
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("'^[a-z0-9-]+$'", f"'{BACKTRACKING}'"), encoding="utf-8")
    server = serve_factory(tmp_path / "playbooks").start()
    hostile = alert("ServiceDown", service="a" * 40 + "!")
    fine = alert("ServiceDown", service="api")

    started = time.monotonic()
    assert server.post(notification([hostile])).status == 200
    assert server.post(notification([fine])).status == 200
    # A backtracking engine would hold the deciding thread for hours on the first.
    rows = {row["decision"]: row for row in server.wait_settled(2, timeout=15)}
    elapsed = time.monotonic() - started

    assert sorted(rows) == ["bad_input", "run"]
    assert "does not match the pattern" in rows["bad_input"]["reason"]
    assert rows["run"]["inputs"] == {"service": "api"}
    assert (markers / "fixed-api").exists()
    assert elapsed < 10, elapsed  # the CLI polls and the run; the verdict itself is µs
