"""Ledger schema v5: incidents — how alerts open and join them, their members and notes,
and their lifecycle times (the record's and a human's) kept in order."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from contextlib import closing
from pathlib import Path

import pytest
from msgspec.structs import replace

from engine.core.errors import LedgerError, UsageError
from engine.ledger import SCHEMA_VERSION, Ledger, RunInfo, new_run_id
from engine.ledger.inbox import NO_MATCH, PROPOSED, RESOLVED, RUN, Decision, InboxAlert, Received
from engine.ledger.incident_times import OrderError, epoch_of

STARTS_AT = "2026-12-07T10:00:00Z"
ENDS_AT = "2026-12-07T10:30:00Z"
GROUP = '{}:{alertname="ServiceDown"}'


def sql(path: Path, statement: str) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(path)) as conn, conn:
        return conn.execute(statement).fetchall()


def facts(
    fingerprint: str, status: str = "firing", starts_at: str = STARTS_AT, **labels: str
) -> InboxAlert:
    return InboxAlert(
        fingerprint,
        starts_at,
        status,
        "ServiceDown",
        labels={"alertname": "ServiceDown", **labels},
        ends_at=ENDS_AT if status == "resolved" else "0001-01-01T00:00:00Z",
        generator_url="http://prometheus.example/graph",
        summary="ServiceDown on api",
    )


def deliver(
    ledger: Ledger, *alerts: InboxAlert, group: str = GROUP, decision: Decision | None = None
) -> list[str]:
    """Accept one notification of `alerts` and decide on each (a resolved alert: resolved,
    a firing one: `decision`, else no_match); the notification's id."""
    status = "firing" if any(a.status == "firing" for a in alerts) else "resolved"
    received = Received("alertmanager", "runbook", group, status, b"{}", list(alerts))
    (notification_id,) = ledger.accept_notifications([received])
    items = []
    for pending in ledger.pending_alerts():
        alert = alerts[pending.position]
        chosen = decision or Decision(NO_MATCH, "no playbook")
        if alert.status == "resolved":
            chosen = Decision(RESOLVED, "resolved")
        items.append((pending, alert, [chosen], None))
    ledger.decide_alerts(items)
    return [notification_id]


def only(ledger: Ledger) -> str:
    (record,) = ledger.incidents()
    return record.incident_id


def run_info(run_id: str, started_at: float) -> RunInfo:
    return RunInfo(
        *(run_id, "fix", "1.0.0", "sha256:h", "/p/fix.yaml", "hook", {}),
        *("alertmanager", "host", "0.1.0", started_at),
    )


def test_a_firing_alert_opens_an_incident_with_impact_started_and_detected(
    ledger: Ledger,
) -> None:
    before = time.time()
    (notification_id,) = deliver(ledger, facts("fp1", service="api", severity="critical"))
    record = ledger.incident(only(ledger))
    assert record.status == "open"
    assert (record.title, record.severity) == ("ServiceDown on api", "critical")
    assert record.opened_by == "alertmanager receiver runbook" and record.group_key == GROUP
    assert record.times["impact_started"].at == epoch_of(STARTS_AT)
    assert record.times["impact_started"].source == "record"
    detected = record.times["detected"]
    assert detected.source == "record" and detected.at is not None and detected.at >= before
    (alert,) = record.alerts
    assert alert.notification_id == notification_id and alert.fingerprint == "fp1"
    assert alert.labels == {"alertname": "ServiceDown", "service": "api", "severity": "critical"}
    assert alert.generator_url == "http://prometheus.example/graph"
    assert (alert.status, alert.ends_at) == ("firing", "")
    assert record.times["resolved"].at is None and record.took("detected") is not None


def test_a_resend_or_an_ha_peers_copy_joins_the_same_incident(ledger: Ledger) -> None:
    deliver(ledger, facts("fp1"))
    deliver(ledger, facts("fp1"))  # group_interval resend
    deliver(ledger, facts("fp1"), group='{}/{}:{alertname="ServiceDown"}')  # another route
    (record,) = ledger.incidents()
    assert len(record.alerts) == 1


def test_a_second_alert_of_the_group_joins_another_group_opens_its_own(ledger: Ledger) -> None:
    deliver(ledger, facts("fp1", service="api"))
    deliver(ledger, facts("fp2", service="web"))
    deliver(ledger, facts("fp3", service="db"), group='{}:{alertname="DiskFull"}')
    records = {len(r.alerts): r for r in ledger.incidents()}
    assert sorted(records) == [1, 2]
    assert [a.fingerprint for a in records[2].alerts] == ["fp1", "fp2"]
    assert [a.fingerprint for a in records[1].alerts] == ["fp3"]


def test_resolved_when_every_alert_resolved_at_the_last_ends_at(ledger: Ledger) -> None:
    deliver(ledger, facts("fp1"), facts("fp2"))
    deliver(ledger, facts("fp1", status="resolved"))
    assert ledger.incident(only(ledger)).status == "open"  # fp2 still fires
    later = InboxAlert(
        **{**_fields(facts("fp2", status="resolved")), "ends_at": "2026-12-07T10:40:00Z"}
    )
    (resolving,) = deliver(ledger, later)
    record = ledger.incident(only(ledger))
    assert record.status == "resolved"
    assert record.times["resolved"].at == epoch_of("2026-12-07T10:40:00Z")
    assert record.times["resolved"].source == "record"
    assert record.alerts[1].resolved_by == resolving and record.alerts[1].status == "resolved"
    # a late firing copy of a resolved firing opens nothing and reopens nothing
    deliver(ledger, facts("fp2"))
    assert [r.status for r in ledger.incidents()] == ["resolved"]
    # a new firing of the group after the incident is over opens a new one
    deliver(ledger, facts("fp1", starts_at="2026-12-07T12:00:00Z"))
    assert sorted(r.status for r in ledger.incidents()) == ["open", "resolved"]


def test_a_firing_that_resolved_and_fired_again_within_the_group_interval_is_over(
    ledger: Ledger,
) -> None:
    # Alertmanager replaced the resolved firing by the new one before it flushed the
    # group: no notification ever says the first firing resolved
    deliver(ledger, facts("fp1"))
    again = "2026-12-07T10:07:00Z"
    (refired,) = deliver(ledger, facts("fp1", starts_at=again))
    over, new = ledger.incidents(limit=5)[::-1]
    (first,) = over.alerts
    assert (first.status, first.ends_at, first.resolved_by) == ("resolved", again, refired)
    assert over.status == "resolved" and over.times["resolved"].at == epoch_of(again)
    # once the incident's alerts are over, the new firing opens a new incident, as after
    # a resolved notification
    assert [(a.starts_at, a.status) for a in new.alerts] == [(again, "firing")]
    assert new.status == "open"
    ends = "2026-12-07T10:20:00Z"
    deliver(ledger, InboxAlert(**{**_fields(facts("fp1", "resolved", again)), "ends_at": ends}))
    assert ledger.incident(new.incident_id).times["resolved"].at == epoch_of(ends)
    # a late copy of the first firing changes nothing; its own resolved notification,
    # late, gives its endsAt
    deliver(ledger, facts("fp1"))
    assert [r.status for r in ledger.incidents()] == ["resolved", "resolved"]
    own_end = InboxAlert(**{**_fields(facts("fp1", "resolved")), "ends_at": "2026-12-07T10:05:00Z"})
    (own,) = deliver(ledger, own_end)
    (first,) = ledger.incident(over.incident_id).alerts
    assert (first.ends_at, first.resolved_by) == ("2026-12-07T10:05:00Z", own)
    assert ledger.incident(over.incident_id).times["resolved"].at == epoch_of(own_end.ends_at)
    deliver(ledger, own_end)  # an HA peer's copy: the first resolved notification stands
    assert ledger.incident(over.incident_id).alerts[0].resolved_by == own


def test_a_firing_seen_only_after_a_later_one_of_its_alert_ended_when_that_one_started(
    ledger: Ledger,
) -> None:
    again = "2026-12-07T10:07:00Z"
    deliver(ledger, facts("fp1", starts_at=again), facts("fp2"))
    deliver(ledger, facts("fp1"))  # an HA peer's older notification, late
    (record,) = ledger.incidents()
    older = next(a for a in record.alerts if (a.fingerprint, a.starts_at) == ("fp1", STARTS_AT))
    assert (older.status, older.ends_at) == ("resolved", again)
    deliver(ledger, facts("fp2", "resolved"))
    ends = "2026-12-07T10:20:00Z"
    deliver(ledger, InboxAlert(**{**_fields(facts("fp1", "resolved", again)), "ends_at": ends}))
    assert ledger.incident(record.incident_id).status == "resolved"


def _fields(alert: InboxAlert) -> dict[str, object]:
    return {name: getattr(alert, name) for name in alert.__struct_fields__}


def test_a_resolved_alert_no_incident_holds_opens_none(ledger: Ledger) -> None:
    deliver(ledger, facts("fp1", status="resolved"))
    deliver(ledger, facts("fp1"))  # its firing copy, late: already resolved
    assert ledger.incidents() == []


def test_runs_and_approved_proposals_are_members_response_started_and_mitigated(
    ledger: Ledger,
) -> None:
    run_id = new_run_id()
    decision = Decision(RUN, "level 3", playbook="fix", content_hash="h", run_id=run_id)
    deliver(ledger, facts("fp1"), decision=decision)
    started = time.time()
    ledger.start_run(run_info(run_id, started))
    ledger.append(
        run_id, "sli_sample", {"phase": "pre-check", "verdict": "healthy", "sample_ts": 1}
    )
    ledger.append(
        run_id,
        "sli_sample",
        {"phase": "after fix", "verdict": "unhealthy", "sample_ts": started + 1},
    )
    ledger.append(
        run_id, "sli_sample", {"phase": "after fix", "verdict": "healthy", "sample_ts": started + 2}
    )
    ledger.append(
        run_id, "sli_sample", {"phase": "after fix", "verdict": "healthy", "sample_ts": started + 3}
    )
    ledger.append(run_id, "run_finished", {"outcome": "recovered"})
    ledger.finish_run(run_id, "recovered", {})
    proposal = Decision(PROPOSED, "level 2", playbook="check", content_hash="h2")
    deliver(ledger, facts("fp2"), decision=proposal)
    (trigger,) = [t for t in ledger.triggers() if t.decision == PROPOSED]
    approved = new_run_id()
    assert ledger.approve_proposal(trigger.trigger_id, approved)
    ledger.start_run(run_info(approved, started + 10))

    record = ledger.incident(only(ledger))
    assert record.run_ids == [run_id, approved]
    assert ledger.incident_of_run(run_id) == ledger.incident_of_run(approved) == record.incident_id
    assert [(p.trigger_id, p.state, p.run_id) for p in record.proposals] == [
        (trigger.trigger_id, "approved", approved)
    ]
    assert (record.proposals[0].approved_by, record.proposals[0].approved_at) == (
        "alertmanager",  # the approving run's operator (run_info's)
        started + 10,
    )
    assert record.times["response_started"].at == started
    assert record.times["mitigated"].at == started + 2  # healthy from then on
    assert record.status == "mitigated"


def test_a_human_time_wins_and_a_record_time_out_of_order_is_left_out(ledger: Ledger) -> None:
    deliver(ledger, facts("fp1"))
    incident_id = only(ledger)
    mitigated = epoch_of("2026-12-07T10:45:00Z")
    assert mitigated is not None
    ledger.set_incident_times(incident_id, {"detected": epoch_of("2026-12-07T10:02:00Z") or 0})
    ledger.set_incident_times(incident_id, {"mitigated": mitigated})
    deliver(ledger, facts("fp1", status="resolved"))  # endsAt 10:30, before mitigated

    record = ledger.incident(incident_id)
    assert record.times["detected"].source == "human"
    assert record.times["detected"].at == epoch_of("2026-12-07T10:02:00Z")
    resolved = record.times["resolved"]
    assert resolved.at is None and resolved.source == ""
    assert "resolved 2026-12-07T10:30:00.000Z is before mitigated" in resolved.ignored
    assert record.status == "mitigated"
    assert ledger.incidents(open_only=True) == [record]


def test_a_human_time_out_of_order_is_refused_and_nothing_is_written(ledger: Ledger) -> None:
    deliver(ledger, facts("fp1"))  # impact started 10:00 from the record
    incident_id = only(ledger)
    early = epoch_of("2026-12-07T09:30:00Z") or 0
    with pytest.raises(OrderError) as refused:
        ledger.set_incident_times(incident_id, {"mitigated": early, "detected": early + 1})
    assert refused.value.exit_code == 2
    assert str(refused.value) == (
        "detected 2026-12-07T09:30:01.000Z (human) would be before"
        " impact started 2026-12-07T10:00:00.000Z (record)"
    )
    record = ledger.incident(incident_id)
    assert record.times["mitigated"].at is None
    assert record.times["detected"].source == "record"
    with pytest.raises(OrderError, match=r"resolved .* would be before mitigated"):
        ledger.set_incident_times(
            incident_id, {"mitigated": early + 7200, "resolved": early + 3600}
        )


def test_attach_note_and_ids(ledger: Ledger) -> None:
    incident_id = ledger.open_incident("disk full on db-1", "alice", severity="sev2")
    run_id = new_run_id()
    ledger.start_run(run_info(run_id, time.time()))
    assert ledger.incident_of_run(run_id) is None
    assert ledger.attach_run(incident_id[:12], run_id[:14], "alice") == (incident_id, run_id, True)
    assert ledger.attach_run(incident_id, run_id, "alice")[2] is False
    other = ledger.open_incident("another", "bob")
    with pytest.raises(UsageError, match=f"already belongs to incident {incident_id}"):
        ledger.attach_run(other, run_id, "bob")
    ledger.note_incident(incident_id, "alice", "cleared /var/log")
    record = ledger.incident(incident_id)
    assert record.run_ids == record.attached == [run_id]
    assert ledger.incident_of_run(run_id[:16]) == incident_id
    assert record.times["response_started"].source == "record"
    assert [(n.author, n.text) for n in record.notes] == [("alice", "cleared /var/log")]
    assert record.alerts == [] and record.status == "open"
    with pytest.raises(LedgerError, match="no incident 'i1999'"):
        ledger.incident("i1999")
    with pytest.raises(LedgerError, match="no run"):
        ledger.attach_run(incident_id, "r1999", "alice")


def _started(ledger: Ledger, mode: str, parent: str | None = None) -> str:
    run_id = new_run_id()
    ledger.start_run(replace(run_info(run_id, time.time()), mode=mode, parent_run=parent))
    return run_id


def test_a_run_and_the_runs_it_is_part_of_or_made_of_belong_to_one_incident(
    ledger: Ledger,
) -> None:
    first = ledger.open_incident("checkout errors", "alice")
    second = ledger.open_incident("disk full", "bob")
    fixed = _started(ledger, "live")
    undo = _started(ledger, "rollback", fixed)
    ledger.attach_run(first, fixed, "alice")
    assert ledger.incident_of_run(undo) == first  # a rollback goes with the run it undid
    above = f"belongs to incident {first} through run {fixed}, which it is part of"
    with pytest.raises(UsageError, match=above):
        ledger.attach_run(second, undo, "bob")
    assert ledger.attach_run(first, undo, "alice")[2] is True

    later = _started(ledger, "live")
    later_undo = _started(ledger, "rollback", later)
    ledger.attach_run(second, later_undo, "bob")
    below = f"belongs to incident {second} through run {later_undo}, part of it"
    with pytest.raises(UsageError, match=below):
        ledger.attach_run(first, later, "alice")

    drill = _started(ledger, "drill")
    inject = _started(ledger, "drill", drill)
    revert = _started(ledger, "rollback", inject)
    for part in (inject, revert):
        with pytest.raises(UsageError, match=f"part of drill {drill}") as refused:
            ledger.attach_run(second, part, "bob")
        assert f"runbook incident attach {second} {drill}" in refused.value.hint
    ledger.attach_run(second, drill, "bob")
    assert ledger.incident_of_run(revert) == second

    tabletop = _started(ledger, "tabletop")
    with pytest.raises(UsageError, match="tabletop exercise: it executed nothing"):
        ledger.attach_run(first, tabletop, "alice")
    assert ledger.incident(first).run_ids == [fixed, undo]
    assert ledger.incident(second).run_ids == [later_undo, drill]


def test_the_server_and_a_human_write_at_once_and_lose_nothing(ledger_path: Path) -> None:
    with Ledger.open(ledger_path) as server:
        deliver(server, facts("fp0"))
    incident_id = ""
    with Ledger.open(ledger_path) as reader:
        incident_id = only(reader)
    errors: list[BaseException] = []

    def alerts() -> None:
        try:
            with Ledger.open(ledger_path) as server:
                for n in range(1, 31):
                    deliver(server, facts(f"fp{n}"))
        except BaseException as exc:
            errors.append(exc)

    def human() -> None:
        try:
            with Ledger.open(ledger_path) as cli:
                for n in range(30):
                    cli.note_incident(incident_id, "alice", f"note {n}")
                cli.set_incident_times(incident_id, {"response_started": time.time()})
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=alerts), threading.Thread(target=human)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    with Ledger.open(ledger_path) as ledger:
        record = ledger.incident(incident_id)
    assert len(record.alerts) == 31 and len(record.notes) == 30
    assert record.times["response_started"].source == "human"


def test_a_v4_ledger_is_brought_to_v5_and_keeps_everything(ledger_path: Path) -> None:
    run_id = new_run_id()
    with Ledger.open(ledger_path) as ledger:
        ledger.start_run(run_info(run_id, time.time()))
        ledger.append(run_id, "run_started", {"maturity": 3})
        ledger.finish_run(run_id, "completed", {})
        deliver(ledger, facts("fp1"))
    for table in (
        "incident_reopenings",
        "incident_notes",
        "incident_runs",
        "incident_alerts",
        "incidents",
    ):
        sql(ledger_path, f"DROP TABLE {table}")  # what a v4 engine wrote
    sql(ledger_path, "PRAGMA user_version = 4")
    before = sql(ledger_path, "SELECT count(*) FROM events")

    with Ledger.open(ledger_path) as ledger:
        assert ledger.get_run(run_id).status == "completed"
        assert [e.kind for e in ledger.events(run_id)] == ["run_started"]
        assert [t.fingerprint for t in ledger.triggers()] == ["fp1"]
        assert ledger.incidents() == []  # alerts decided before v5 opened none
        deliver(ledger, facts("fp1", starts_at="2026-12-07T11:00:00Z"))
        assert len(ledger.incidents()) == 1
    assert sql(ledger_path, "PRAGMA user_version") == [(SCHEMA_VERSION,)] == [(5,)]
    assert sql(ledger_path, "SELECT count(*) FROM events") == before
    tables = {row[0] for row in sql(ledger_path, "SELECT name FROM sqlite_master")}
    assert {"incidents", "incident_alerts", "incident_runs", "incident_notes"} <= tables
    assert "incident_reopenings" in tables
    assert json.loads(str(sql(ledger_path, "SELECT payload FROM notifications")[0][0])) == {}


def test_a_firing_first_received_before_v5_is_detected_when_it_was_first_received(
    ledger_path: Path,
) -> None:
    with Ledger.open(ledger_path) as ledger:
        (first,) = deliver(ledger, facts("fp1"))
    for table in (
        "incident_reopenings",
        "incident_notes",
        "incident_runs",
        "incident_alerts",
        "incidents",
    ):
        sql(ledger_path, f"DROP TABLE {table}")  # what a v4 engine wrote
    sql(ledger_path, "PRAGMA user_version = 4")
    sql(ledger_path, "UPDATE notifications SET received_at = received_at - 600")
    (received,) = sql(ledger_path, "SELECT received_at FROM notifications")

    with Ledger.open(ledger_path) as ledger:
        deliver(ledger, facts("fp1"))  # Alertmanager's resend, after the upgrade
        (record,) = ledger.incidents()
    (alert,) = record.alerts
    assert (alert.notification_id, alert.received_at) == (first, received[0])
    assert record.times["detected"].at == received[0]


def _resolved_incident(ledger: Ledger, number: int) -> str:
    """An incident of its own alert (group), resolved by the record, with a note."""
    group = f'{{}}:{{alertname="Down{number}"}}'
    deliver(ledger, facts(f"fp{number}"), group=group)
    deliver(ledger, facts(f"fp{number}", status="resolved"), group=group)
    incident_id = ledger.incidents(limit=1, open_only=False)[0].incident_id
    ledger.note_incident(incident_id, "alice", f"note {number}")
    return incident_id


def test_the_list_reads_in_a_few_queries_and_open_is_what_the_record_says(
    ledger: Ledger,
) -> None:
    resolved = [_resolved_incident(ledger, number) for number in range(30)]
    # the record resolved it, but a run attached later started after its last endsAt:
    # the record's resolved time is left out, the incident is open
    late = _resolved_incident(ledger, 30)
    run_id = new_run_id()
    ledger.start_run(run_info(run_id, (epoch_of(ENDS_AT) or 0.0) + 60))
    ledger.attach_run(late, run_id, "alice")
    firing = ledger.open_incident("disk full", "bob")
    # its alert ended before it started: the record's resolved time is left out
    backwards = "2026-12-07T11:00:00Z"
    deliver(ledger, facts("fp99", starts_at=backwards), group="{}:{}")
    deliver(ledger, facts("fp99", "resolved", backwards), group="{}:{}")
    (reversed_,) = [r for r in ledger.incidents() if r.alerts and r.alerts[0].fingerprint == "fp99"]
    statements: list[str] = []
    ledger._conn.set_trace_callback(statements.append)
    listed = ledger.incidents(open_only=True)
    everything = ledger.incidents(limit=100)
    ledger._conn.set_trace_callback(None)
    assert [r.incident_id for r in listed] == [reversed_.incident_id, firing, late]
    assert [r.status for r in listed] == ["open", "open", "open"]
    assert listed[0].times["resolved"].ignored and listed[2].times["resolved"].ignored
    assert {r.incident_id for r in everything} == {*resolved, late, firing, reversed_.incident_id}
    assert all(len(r.notes) == 1 for r in everything if r.incident_id in resolved)
    # a few queries for the whole list, not a few for each of its 33 incidents
    assert len(statements) <= 24, statements
