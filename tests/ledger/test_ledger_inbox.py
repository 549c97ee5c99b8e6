"""The webhook inbox in the ledger: accepted notifications, decisions, dedup, the queue."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest
from msgspec.structs import replace

from engine.ledger import Ledger, RunInfo, new_run_id
from engine.ledger.inbox import (
    CANCELLED,
    DUPLICATE,
    NO_MATCH,
    PROPOSED,
    QUEUED,
    RESOLVED,
    RUN,
    STARTED,
    Decision,
    InboxAlert,
    Received,
)


@pytest.fixture
def ledger(ledger_path: Path) -> Ledger:
    return Ledger.open(ledger_path)


STARTS_AT = "2026-12-07T10:00:00Z"


def _received(*fingerprints: str, starts_at: str = STARTS_AT) -> Received:
    alerts = [InboxAlert(fp, starts_at, "firing", "ServiceDown") for fp in fingerprints]
    payload = json.dumps({"alerts": [{"fingerprint": fp} for fp in fingerprints]}).encode()
    return Received("alertmanager", "runbook", "{}:{}", "firing", payload, alerts)


def _run(content_hash: str = "h1") -> Decision:
    return Decision(
        RUN,
        "level 3",
        playbook="fix",
        version="1.0.0",
        content_hash=content_hash,
        file="/p/fix.yaml",
        inputs={"service": "api"},
        run_id=new_run_id(),
    )


def _decide_all(ledger: Ledger, decision: Callable[[], Decision]) -> list[tuple[str, Decision]]:
    """Decide `decision()` on every pending alert (alert N has fingerprint fpN)."""
    recorded = []
    for pending in ledger.pending_alerts():
        facts = InboxAlert(f"fp{pending.position}", "2026-12-07T10:00:00Z", "firing", "ServiceDown")
        (decided,) = ledger.decide_alerts([(pending, facts, [decision()], None)])
        recorded += decided
    return recorded


def _accept(ledger: Ledger, received: Received) -> str:
    (notification_id,) = ledger.accept_notifications([received])
    return notification_id


def test_an_accepted_notification_waits_in_the_inbox_until_decided(ledger: Ledger) -> None:
    notification_id = _accept(ledger, _received("fp0", "fp1"))
    pending = ledger.pending_alerts()
    assert [(p.notification_id, p.position) for p in pending] == [
        (notification_id, 0),
        (notification_id, 1),
    ]
    assert json.loads(ledger.notification_payload(notification_id))["alerts"][1] == {
        "fingerprint": "fp1"
    }
    _decide_all(ledger, lambda: Decision(NO_MATCH, "no playbook"))
    assert ledger.pending_alerts() == []
    assert [row.decision for row in ledger.triggers()] == [NO_MATCH, NO_MATCH]


def test_the_same_firing_with_the_same_content_is_acted_on_once(ledger: Ledger) -> None:
    _accept(ledger, _received("fp0"))
    ((first_id, first),) = _decide_all(ledger, _run)
    _accept(ledger, _received("fp0"))  # a resend
    ((_, second),) = _decide_all(ledger, _run)
    _accept(ledger, _received("fp0"))  # the playbook was edited since
    ((_, edited),) = _decide_all(ledger, lambda: _run(content_hash="h2"))

    assert first.decision == RUN
    assert second.decision == DUPLICATE
    assert second.run_id == first.run_id and first_id in second.reason
    assert edited.decision == RUN and edited.run_id != first.run_id
    # the index refuses a second one
    with closing(sqlite3.connect(ledger.path)) as conn, pytest.raises(sqlite3.IntegrityError):
        conn.execute(
            "UPDATE triggers SET decision = 'run', content_hash = 'h1' WHERE decision = 'duplicate'"
        )


def test_a_queued_run_is_started_once_and_not_after_it_was_cancelled(ledger: Ledger) -> None:
    _accept(ledger, _received("fp0", "fp1"))
    (first_id, _), (second_id, _) = _decide_all(ledger, _run)
    assert [row.state for row in ledger.queued_triggers()] == [QUEUED, QUEUED]

    assert ledger.claim_trigger(first_id) is True
    assert ledger.claim_trigger(first_id) is False  # already started
    _accept(ledger, _received("fp1"))  # its resolution (decided as resolved below)
    (resolved,) = ledger.pending_alerts()
    facts = InboxAlert("fp1", STARTS_AT, "resolved", "ServiceDown")
    ((_, closed),) = ledger.decide_alerts(
        [(resolved, facts, [Decision(RESOLVED, "resolved")], None)]
    )[0]
    assert closed.reason == f"resolved; cancelled the queued run of {second_id}"
    assert ledger.claim_trigger(second_id) is False
    states = {row.trigger_id: (row.state, row.reason) for row in ledger.triggers()}
    assert states[first_id][0] == STARTED
    assert states[second_id] == (CANCELLED, "resolved before run")
    assert ledger.queued_triggers() == []


def _resolution(fingerprint: str) -> Received:
    """A resolved notification of the firing `_received` gives (not decided yet)."""
    alerts = [InboxAlert(fingerprint, STARTS_AT, "resolved", "ServiceDown")]
    payload = json.dumps({"alerts": [{"fingerprint": fingerprint}]}).encode()
    return Received("alertmanager", "runbook", "{}:{}", "resolved", payload, alerts)


def test_a_queued_run_whose_resolution_was_accepted_does_not_start(ledger: Ledger) -> None:
    # a restart queues the recorded runs before the inbox is decided: the resolution
    # accepted before the stop must hold the run back all the same
    _accept(ledger, _received("fp0", "fp1"))
    (resolved_id, _), (firing_id, _) = _decide_all(ledger, _run)
    _accept(ledger, _resolution("fp0"))
    assert len(ledger.pending_alerts()) == 1  # not decided yet

    assert ledger.claim_trigger(resolved_id) is False
    assert ledger.claim_trigger(firing_id) is True
    states = {row.trigger_id: (row.state, row.reason) for row in ledger.triggers()}
    assert states[resolved_id] == (CANCELLED, "resolved before run")
    assert states[firing_id][0] == STARTED


def test_a_proposal_whose_resolution_was_accepted_cannot_be_approved(ledger: Ledger) -> None:
    _accept(ledger, _received("fp0"))
    proposal = replace(_run(), decision=PROPOSED, run_id=None, expires_at=time.time() + 3600)
    ((trigger_id, _),) = _decide_all(ledger, lambda: proposal)
    _accept(ledger, _resolution("fp0"))  # not decided yet

    assert ledger.approve_proposal(trigger_id, new_run_id()) is False
    (row,) = ledger.triggers()
    assert (row.state, row.run_id) == (RESOLVED, None)


def test_a_claimed_run_that_never_recorded_its_start_is_queued_again(ledger: Ledger) -> None:
    _accept(ledger, _received("fp0", "fp1"))
    (lost_id, _), (started_id, started) = _decide_all(ledger, _run)
    assert ledger.claim_trigger(lost_id) and ledger.claim_trigger(started_id)
    assert started.run_id is not None
    ledger.start_run(
        RunInfo(
            run_id=started.run_id,
            playbook="fix",
            version="1.0.0",
            content_hash="h1",
            file="/p/fix.yaml",
            mode="hook",
            inputs={},
            operator="alertmanager",
            host="h",
            engine_version="0",
            started_at=0.0,
        )
    )

    assert ledger.requeue_unstarted_triggers() == 1
    assert [row.trigger_id for row in ledger.queued_triggers()] == [lost_id]


def test_a_run_started_by_an_alert_knows_its_trigger(ledger: Ledger) -> None:
    _accept(ledger, _received("fp0"))
    ((trigger_id, decision),) = _decide_all(ledger, _run)
    assert decision.run_id is not None
    found = ledger.trigger_of_run(decision.run_id)
    assert found is not None and found.trigger_id == trigger_id
    assert ledger.trigger_of_run(new_run_id()) is None


def test_only_bodies_of_notifications_whose_alerts_are_all_settled_are_pruned(
    ledger: Ledger,
) -> None:
    settled = _accept(ledger, _received("fp0"))
    _decide_all(ledger, lambda: Decision(NO_MATCH, "no playbook"))
    queued = _accept(ledger, _received("fp0", "fp1"))
    (first_id, _), (second_id, _) = _decide_all(ledger, _run)
    undecided = _accept(ledger, _received("fp2"))
    assert ledger.prune_notification_payloads(0.0)[0] == 0  # none is old enough

    pruned, resume = ledger.prune_notification_payloads(time.time() + 1, batch=2)
    assert pruned == 1
    assert ledger.notification_payload(settled) == ""
    assert ledger.notification_payload(queued) and ledger.notification_payload(undecided)
    reasons = {row.trigger_id: row.reason for row in ledger.triggers()}
    assert len(reasons) == 3 and "no playbook" in reasons.values()  # the decisions stay

    for trigger_id in (first_id, second_id):  # could not start, and was escalated
        assert ledger.claim_trigger(trigger_id)
        ledger.trigger_not_started(trigger_id, "stale: queued 2h03m ago, over the 15m limit")
        ledger.add_escalation("not_started", {}, {}, (trigger_id, None, "fix"))
    assert resume[1] == settled  # all before the first body kept is pruned
    pruned, resume = ledger.prune_notification_payloads(time.time() + 1, resume)
    assert (pruned, resume[1]) == (1, queued)
    assert ledger.notification_payload(queued) == ""
    assert ledger.notification_payload(undecided)
    assert ledger.triggers()[0].reason.startswith("stale: queued")
