"""Level-2 proposals: what `runbook serve` records instead of running, and `runbook
approve`, which shows the plan and runs it as the human who approves."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from run_fixtures import finish_terminal, spawn_terminal
from serve_fixtures import Server, alert, notification, write_playbook

ServeFactory = Callable[..., Server]


def _proposed(tmp_path: Path, serve_factory: ServeFactory, *args: str) -> tuple[Server, str]:
    """A server with a level-2 playbook, and the id of the proposal an alert made."""
    write_playbook(tmp_path / "playbooks", tmp_path / "markers", level=2)
    server = serve_factory(tmp_path / "playbooks", *args).start()
    assert server.post(notification([alert("ServiceDown", service="api")])).status == 200
    (row,) = server.wait_settled(1)
    assert row["decision"] == "proposed"
    return server, str(row["trigger_id"])


def _proposals(server: Server, *args: str) -> list[dict[str, Any]]:
    done = server.cli("proposals", "--output", "json", *args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def test_a_proposal_is_listed_and_approving_it_shows_the_plan_then_runs_it_once(
    tmp_path: Path, serve_factory: ServeFactory
) -> None:
    server, proposal = _proposed(tmp_path, serve_factory)
    (listed,) = _proposals(server)
    assert listed["trigger_id"] == proposal and listed["status"] == "open"
    assert listed["inputs"] == {"service": "api"}
    assert server.runs() == []

    refused = server.cli("approve", proposal)  # no terminal, no --yes: nothing runs
    assert refused.returncode == 5 and "--yes" in refused.stderr
    assert server.runs() == []

    done = server.cli("approve", proposal[:14], "--yes")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("plan: fix-service")  # the plan came first
    assert (tmp_path / "markers" / "fixed-api").exists()
    (run,) = server.runs()
    assert run["status"] == "recovered" and run["mode"] == "live"
    assert f"approved proposal {proposal}" in server.cli("show", str(run["run_id"])).stdout
    (approved,) = _proposals(server, "--all")
    assert approved["status"] == "approved" and approved["run_id"] == run["run_id"]
    assert _proposals(server) == []

    again = server.cli("approve", proposal, "--yes")
    assert again.returncode == 5 and "approved" in again.stderr
    assert len(server.runs()) == 1


def test_a_resolved_alert_closes_its_proposal(tmp_path: Path, serve_factory: ServeFactory) -> None:
    server, proposal = _proposed(tmp_path, serve_factory)
    resolved = alert("ServiceDown", status="resolved", service="api")
    server.post(notification([resolved]))
    rows = server.wait_settled(2)
    assert proposal in rows[0]["reason"]
    done = server.cli("approve", proposal, "--yes")
    assert done.returncode == 5 and "resolved" in done.stderr
    assert server.runs() == []


def test_an_expired_proposal_cannot_be_approved(
    tmp_path: Path, serve_factory: ServeFactory
) -> None:
    config = tmp_path / "serve.yaml"
    config.write_text("proposals: {expire_after: 500ms}\n")
    server, proposal = _proposed(tmp_path, serve_factory, "--config", str(config))
    time.sleep(0.6)
    assert _proposals(server) == []
    assert _proposals(server, "--all")[0]["status"] == "expired"
    done = server.cli("approve", proposal, "--yes")
    assert done.returncode == 5 and "expired" in done.stderr
    assert server.runs() == []


def test_a_playbook_edited_since_the_proposal_is_not_run(
    tmp_path: Path, serve_factory: ServeFactory
) -> None:
    server, proposal = _proposed(tmp_path, serve_factory)
    file = tmp_path / "playbooks" / "fix-service.yaml"
    file.write_text(file.read_text().replace("owner: tests", "owner: someone-else"))
    done = server.cli("approve", proposal, "--yes")
    assert done.returncode == 5 and "changed since" in done.stderr
    assert server.runs() == []


def test_at_a_terminal_approve_asks_after_the_plan_and_no_runs_nothing(
    tmp_path: Path, serve_factory: ServeFactory
) -> None:
    server, proposal = _proposed(tmp_path, serve_factory)
    child = spawn_terminal("approve", proposal)
    child.expect("plan: fix-service")  # the plan first
    child.expect("touch ")
    child.expect(r"Approve .* and run it now\?")
    child.sendline("n")
    assert finish_terminal(child) == 5
    assert server.runs() == []
    assert _proposals(server)[0]["status"] == "open"


def test_a_playbook_edited_while_the_approver_reads_the_plan_is_not_run(
    tmp_path: Path, serve_factory: ServeFactory
) -> None:
    server, proposal = _proposed(tmp_path, serve_factory)
    child = spawn_terminal("approve", proposal)
    child.expect(r"Approve .* and run it now\?")
    file = tmp_path / "playbooks" / "fix-service.yaml"
    file.write_text(file.read_text().replace("touch ", "echo NOT-THE-PLAN; touch "))
    child.sendline("y")
    assert finish_terminal(child) == 5
    assert server.runs() == []
    assert not (tmp_path / "markers" / "fixed-api").exists()
    assert _proposals(server)[0]["status"] == "open"  # still to decide on
