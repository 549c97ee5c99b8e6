"""A regression case is a file teams commit: no secret in it, also where the alert that
started the run carried one in an annotation rather than in a label an input took."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from serve_fixtures import Server, alert, notification, write_secret_label_playbook
from sli_helpers import run_cli


def test_a_declared_secret_in_the_alerts_annotation_is_redacted_in_the_case(
    tmp_path: Path, serve_factory: Callable[..., Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    canary = f"canary-{uuid.uuid4().hex[:12]}"
    folder = write_secret_label_playbook(tmp_path / "playbooks", tmp_path / "markers")
    server = serve_factory(folder, env={"LABEL_TOKEN": canary}).start()
    fired = alert("ServiceDown", service="api")
    fired["annotations"]["description"] = f"the api rejects token {canary.upper()}"
    assert server.post(notification([fired])).status == 200
    (row,) = server.wait_settled(1)
    assert row["state"] == "started", (row["reason"], server.log[-2000:])
    monkeypatch.setenv("LABEL_TOKEN", canary)  # where the case is made, as where it ran
    case = tmp_path / "case.yaml"

    done = run_cli("regress", str(row["run_id"]), "-o", str(case))

    assert done.returncode == 0, done.stdout + done.stderr
    text = case.read_text()
    assert canary.lower() not in text.lower()
    assert "the api rejects token «redacted:token»" in text
