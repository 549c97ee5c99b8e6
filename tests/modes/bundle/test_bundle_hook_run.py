"""The bundle of a run an alert started: the manifest has the decision on the alert (and
why), the notification's raw body, and no secret the body carried."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path

from bundle_helpers import manifest, members
from run_fixtures import runbook
from serve_fixtures import Server, alert, notification, write_playbook

CANARY = "hook-canary-4e1b88a0"
SECRETS = "secrets:\n  token: {env: CANARY_TOKEN}\n"


def test_a_hook_runs_bundle_has_the_trigger_decision_and_the_raw_alert(
    tmp_path: Path, serve_factory: Callable[..., Server]
) -> None:
    write_playbook(tmp_path / "playbooks", tmp_path / "markers", extra=SECRETS)
    server = serve_factory(tmp_path / "playbooks", env={"CANARY_TOKEN": CANARY}).start()
    fired = alert("ServiceDown", service="api")
    encoded = base64.b64encode(CANARY.encode()).decode()
    fired["annotations"]["description"] = f"token {CANARY} / {encoded}"
    assert server.post(notification([fired])).status == 200
    (row,) = server.wait_settled(1)
    assert row["decision"] == "run"
    (run,) = server.runs()
    assert run["status"] == "recovered" and run["mode"] == "hook"

    bundle = tmp_path / "hook.tar.gz"
    done = runbook("export", run["run_id"], "-o", str(bundle), extra_env={"CANARY_TOKEN": CANARY})
    assert done.returncode == 0, done.stderr

    facts = manifest(bundle)
    trigger = facts["trigger"]
    assert trigger["trigger_id"] == row["trigger_id"] and trigger["decision"] == "run"
    assert trigger["reason"] == row["reason"] and trigger["alertname"] == "ServiceDown"
    assert trigger["payload_status"] == "as received"
    body = trigger["payload"]
    assert body["receiver"] == "runbook" and body["version"] == "4"
    (sent,) = body["alerts"]
    assert sent["labels"] == fired["labels"] and sent["fingerprint"] == fired["fingerprint"]
    assert sent["annotations"]["description"] == "token «redacted:token» / «redacted:token»"
    assert facts["guards"][0] == {
        "guard": "alert decision",
        "decision": "run",
        "reason": row["reason"],
        "ts": trigger["decided_at"],
    }
    assert any(g["guard"] == "sli pre-check" for g in facts["guards"])

    raw = b"".join(members(bundle).values())
    assert CANARY.encode() not in raw and encoded.encode() not in raw
    assert json.dumps(CANARY).encode() not in raw
