"""`runbook incident …`, `runbook incidents` and `runbook show INCIDENT_ID` at the command
line: what each prints, the order of times kept, and bad input refused with exit 2."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sli_helpers import run_cli, run_id_of

from engine.cli.incidents import TIMES as CLEARABLE
from engine.ledger.incident_times import TIMES

PLAYBOOK = """\
apiVersion: runbook/v1
kind: Playbook
metadata: {name: touch-it, version: 1.0.0, maturity: 2, owner: tests}
steps:
  - id: touch
    timeout: 10s
    shell: {run: ["true"]}
    undo: {shell: {run: ["true"]}}
"""


def _ok(*args: str) -> str:
    done = run_cli(*args)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _refused(*args: str) -> str:
    done = run_cli(*args)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    return done.stderr


def _opened(title: str = "checkout errors", *extra: str) -> str:
    out = _ok("incident", "open", "--title", title, *extra)
    assert out.startswith("opened incident i")
    return out.split()[-1]


def _shown(incident_id: str) -> dict[str, Any]:
    return json.loads(_ok("show", incident_id, "--output", "json"))  # type: ignore[no-any-return]


def test_open_note_set_resolve_and_show(tmp_path: Path) -> None:
    incident_id = _opened("checkout errors", "--severity", "sev2", "--playbook", "touch-it")
    assert "noted" in _ok("incident", "note", incident_id, "rolled back the deploy")
    set_out = _ok(
        "incident",
        "set",
        incident_id[:14],
        "--impact-started",
        "2026-12-07T10:00:00Z",
        "--detected",
        "2026-12-07T11:04:30+01:00",
        "--mitigated",
        "2026-12-07T10:20:00Z",
    )
    assert "detected          2026-12-07T10:04:30.000Z human   (+4m30s)" in set_out
    assert _ok("incident", "resolve", incident_id, "--at", "2026-12-07T10:30:00Z")

    shown = _shown(incident_id)
    assert (shown["title"], shown["severity"], shown["playbook"]) == (
        "checkout errors",
        "sev2",
        "touch-it",
    )
    assert shown["status"] == "resolved"
    assert shown["times"]["mitigated"] == {"at": "2026-12-07T10:20:00.000Z", "source": "human"}
    assert (shown["ttd_seconds"], shown["ttm_seconds"], shown["ttr_seconds"]) == (270, 1200, 1800)
    assert [n["text"] for n in shown["notes"]] == ["rolled back the deploy"]
    text = _ok("show", incident_id)
    assert f"incident {incident_id}: checkout errors" in text
    assert "resolved          2026-12-07T10:30:00.000Z human   (+30m00s)" in text
    assert ": rolled back the deploy" in text


def test_incidents_lists_the_open_ones_unless_all(tmp_path: Path) -> None:
    done = _opened("done one")
    _ok("incident", "resolve", done)
    live = _opened("live one")
    listed = _ok("incidents")
    assert live in listed and done not in listed
    assert "TTD" in listed.splitlines()[0]
    everything = json.loads(_ok("incidents", "--all", "--since", "1h", "--output", "json"))
    assert [(i["incident_id"], i["status"]) for i in everything] == [
        (live, "open"),
        (done, "resolved"),
    ]
    assert json.loads(_ok("incidents", "--open", "-o", "json"))[0]["incident_id"] == live


def test_a_time_out_of_order_is_refused_naming_both_and_nothing_changes() -> None:
    incident_id = _opened()
    _ok("incident", "set", incident_id, "--impact-started", "2026-12-07T10:00:00Z")
    error = _refused("incident", "set", incident_id, "--mitigated", "2026-12-07T09:59:00Z")
    assert (
        "error: mitigated 2026-12-07T09:59:00.000Z (human) would be before"
        " impact started 2026-12-07T10:00:00.000Z (human)"
    ) in error
    assert "hint:" in error
    error = _refused(
        "incident",
        "set",
        incident_id,
        "--mitigated",
        "2026-12-07T10:10:00Z",
        "--resolved",
        "2026-12-07T10:05:00Z",
    )
    assert "resolved 2026-12-07T10:05:00.000Z (human) would be before mitigated" in error
    assert _shown(incident_id)["times"]["mitigated"]["at"] is None
    assert _shown(incident_id)["status"] == "open"


def test_bad_input_is_refused_with_exit_2() -> None:
    incident_id = _opened()
    assert "not a time" in _refused("incident", "set", incident_id, "--detected", "10:00")
    assert "not a time" in _refused(
        "incident", "set", incident_id, "--detected", "2026-12-07T10:00:00"
    )
    assert "no time to set" in _refused("incident", "set", incident_id)
    for beyond in ("9999-12-31T23:59:59-01:00", "0001-01-01T00:30:00+01:00"):
        assert "not a time" in _refused("incident", "set", incident_id, "--resolved", beyond)
    assert _shown(incident_id)["times"]["resolved"] == {"at": None, "source": None}
    assert "no incident 'i1999'" in _refused("incident", "note", "i1999", "text")
    assert "no incident 'i1999'" in _refused("show", "i1999")
    assert "is empty" in _refused("incident", "note", incident_id, "  ")
    assert "is empty" in _refused("incident", "open", "--title", "")
    assert "not a severity" in _refused("incident", "open", "--title", "x", "--severity", "a b")
    assert "no run 'r1999'" in _refused("incident", "attach", incident_id, "r1999")
    assert "not in the range" in _refused("incidents", "--limit", "0")
    assert "--since" in _refused("incidents", "--since", "soon")


def test_a_run_joins_by_incident_or_attach_and_starts_the_response(tmp_path: Path) -> None:
    playbook = tmp_path / "touch-it.yaml"
    playbook.write_text(PLAYBOOK)
    incident_id = _opened()
    first = run_id_of(_ok("run", str(playbook), "--yes", "-q", "--incident", incident_id))
    second = run_id_of(_ok("run", str(playbook), "--yes", "-q"))
    assert "attached run" in _ok("incident", "attach", incident_id, second)
    shown = _shown(incident_id)
    assert shown["runs"] == shown["attached_runs"] == [first, second]
    assert shown["times"]["response_started"]["source"] == "record"
    other = _opened("another")
    assert f"already belongs to incident {incident_id}" in _refused(
        "incident", "attach", other, first
    )
    # an unknown incident is refused before anything runs
    assert "no incident 'i1999'" in _refused("run", str(playbook), "--yes", "--incident", "i1999")
    runs = json.loads(_ok("runs", "--output", "json"))
    assert len(runs) == 2


def test_a_human_time_taken_back_leaves_the_record_s_and_every_time_can_be_cleared() -> None:
    assert CLEARABLE == TIMES
    incident_id = _opened()
    _ok("incident", "resolve", incident_id)
    assert _shown(incident_id)["status"] == "resolved"
    out = _ok("incident", "set", incident_id, "--clear", "resolved")
    assert out.startswith(f"incident {incident_id}: open")
    assert _shown(incident_id)["times"]["resolved"] == {"at": None, "source": None}
    error = _refused("incident", "set", incident_id, "--clear", "mitigated", "--mitigated", "now")
    assert "mitigated is both set and cleared" in error
    assert "'ended' is not one of" in _refused("incident", "set", incident_id, "--clear", "ended")


def test_resolving_a_resolved_incident_again_keeps_its_time() -> None:
    incident_id = _opened()
    _ok("incident", "set", incident_id, "--impact-started", "2026-12-07T10:00:00Z")
    _ok("incident", "resolve", incident_id, "--at", "2026-12-07T10:30:00Z")
    again = _ok("incident", "resolve", incident_id)  # a second responder, later
    assert (
        f"incident {incident_id} is already resolved at 2026-12-07T10:30:00.000Z (human)" in again
    )
    assert "nothing changed" in again and "--resolved T" in again
    assert _shown(incident_id)["times"]["resolved"]["at"] == "2026-12-07T10:30:00.000Z"
    assert "not a time" in _refused("incident", "resolve", incident_id, "--at", "soon")
    corrected = "2026-12-07T10:40:00Z"
    _ok("incident", "set", incident_id, "--resolved", corrected)
    assert _shown(incident_id)["times"]["resolved"]["at"] == "2026-12-07T10:40:00.000Z"
