"""The bundle of a run an alert started: the manifest has the decision on the alert (and
why), the notification's raw body, and no secret the body carried."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote, quote_plus

from bundle_helpers import manifest, members
from run_fixtures import runbook
from serve_fixtures import (
    Server,
    alert,
    notification,
    write_playbook,
    write_secret_label_playbook,
)

from engine.ledger import Ledger

CANARY = "hook canary/4e1b+88a0&x"
SECRETS = "secrets:\n  token: {env: CANARY_TOKEN}\n"


def test_a_hook_runs_bundle_has_the_trigger_decision_and_the_raw_alert(
    tmp_path: Path, serve_factory: Callable[..., Server]
) -> None:
    write_playbook(tmp_path / "playbooks", tmp_path / "markers", extra=SECRETS)
    server = serve_factory(tmp_path / "playbooks", env={"CANARY_TOKEN": CANARY}).start()
    fired = alert("ServiceDown", service="api")
    encoded = base64.b64encode(CANARY.encode()).decode()
    inner = base64.b64encode(f"Bearer:{CANARY};".encode()).decode()
    forms = [CANARY, encoded, quote(CANARY, safe=""), quote_plus(CANARY), inner[8:-8]]
    fired["annotations"]["description"] = f"token {CANARY} / {encoded}"
    fired["annotations"]["runbook_url"] = f"https://wiki.example/?t={quote(CANARY, safe='')}"
    fired["annotations"]["header"] = inner
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
    for form in [*forms, json.dumps(CANARY)[1:-1]]:
        assert form.encode() not in raw, form


def test_a_hook_run_replays_its_when_against_the_recorded_alert(
    tmp_path: Path, serve_factory: Callable[..., Server]
) -> None:
    file = write_playbook(tmp_path / "playbooks", tmp_path / "markers")
    server = serve_factory(tmp_path / "playbooks").start()
    assert server.post(notification([alert("ServiceDown", service="api")])).status == 200
    server.wait_settled(1)
    (run,) = server.runs()
    bundle = tmp_path / "hook.tar.gz"
    assert runbook("export", run["run_id"], "-o", str(bundle)).returncode == 0

    same = runbook("replay", str(bundle))
    assert same.returncode == 0, same.stdout + same.stderr
    text = file.read_text()
    step = "  - id: fix\n"
    file.write_text(text.replace(step, f"{step}    when: \"alert.labels.service == 'api'\"\n"))
    still = runbook("replay", str(bundle), "--output", "json")
    assert still.returncode == 1  # the content changed, the path did not
    assert [d["what"] for d in json.loads(still.stdout)["differences"]] == ["content"]
    file.write_text(text.replace(step, f"{step}    when: \"alert.labels.service == 'db'\"\n"))
    other = runbook("replay", str(bundle), "--output", "json")
    assert other.returncode == 1
    (when,) = [d for d in json.loads(other.stdout)["differences"] if d["what"] == "when"]
    assert when["step"] == "fix" and when["recorded"] == "ran (succeeded)"
    assert when["now"] == "would be skipped: `alert.labels.service == 'db'` is false"

    file.write_text(text.replace('targets: ["svc/', 'targets: ["service/'))
    relocked = runbook("replay", str(bundle), "--output", "json")
    assert relocked.returncode == 1
    (guard,) = [d for d in json.loads(relocked.stdout)["differences"] if d["what"] == "guard"]
    assert guard["recorded"] == "locked svc/api" and guard["now"] == "would lock service/api"


def test_an_alert_body_emptied_by_retention_is_said_to_be_so(
    tmp_path: Path, serve_factory: Callable[..., Server]
) -> None:
    file = write_playbook(tmp_path / "playbooks", tmp_path / "markers")
    server = serve_factory(tmp_path / "playbooks").start()
    assert server.post(notification([alert("ServiceDown", service="api")])).status == 200
    server.wait_settled(1)
    (run,) = server.runs()
    assert server.stop() == 0
    with Ledger.open(server.home / "ledger.sqlite3") as ledger:
        assert ledger.prune_notification_payloads(time.time() + 1)[0] == 1

    bundle = tmp_path / "pruned.tar.gz"
    assert runbook("export", run["run_id"], "-o", str(bundle)).returncode == 0
    trigger = manifest(bundle)["trigger"]
    assert trigger["decision"] == "run" and trigger["alertname"] == "ServiceDown"
    assert trigger["payload_status"] == "pruned by retention" and trigger["payload"] is None

    step = "  - id: fix\n"
    text = file.read_text()
    file.write_text(text.replace(step, f"{step}    when: \"alert.labels.service == 'api'\"\n"))
    done = runbook("replay", str(bundle), "--output", "json")
    assert done.returncode == 1  # the content changed; the `when:` cannot be judged
    report = json.loads(done.stdout)
    assert [d["what"] for d in report["differences"]] == ["content"]
    notes = {(n["what"], n["step"]) for n in report["unjudged"]}
    assert ("alert", None) in notes and ("when", "fix") in notes


def test_a_label_that_gave_an_input_a_secret_leaves_in_no_bundle_made_without_the_secret(
    tmp_path: Path, serve_factory: Callable[..., Server]
) -> None:
    canary = f"canary-{uuid.uuid4().hex[:12]}"
    folder = write_secret_label_playbook(tmp_path / "playbooks", tmp_path / "markers")
    server = serve_factory(folder, env={"LABEL_TOKEN": canary}).start()
    assert server.post(notification([alert("ServiceDown", service=canary)])).status == 200
    (row,) = server.wait_settled(1)
    assert row["state"] == "started", (row["reason"], server.log[-2000:])
    bundle = tmp_path / "label.tar.gz"

    done = runbook("export", str(row["run_id"]), "-o", str(bundle))  # LABEL_TOKEN not set

    assert done.returncode == 0, done.stderr
    raw = b"".join(members(bundle).values())
    assert canary.encode() not in raw
    (sent,) = manifest(bundle)["trigger"]["payload"]["alerts"]
    assert sent["labels"]["service"] == "«redacted:service»"
    assert manifest(bundle)["trigger"]["inputs"]["service"] == "«redacted:service»"
