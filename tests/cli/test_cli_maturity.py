"""Maturity on evidence at the command line, with real runs: the board, the manual
ladder of one playbook (guided runs at a terminal, supervised runs, a drill whose revert
exercises an undo), the verdicts and their exit codes, the file edited in one line."""

from __future__ import annotations

import difflib
import json
import signal
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pexpect
from run_fixtures import (
    current_env,
    finish_terminal,
    kill_group_after_test,
    run_env,  # noqa: F401  (autouse fixture)
    run_id_of,
    runbook,
    spawn_terminal,
    start_engine,
    wait_for,
)

LADDER = """\
# The ladder: a service whose health is one word in a state file.
apiVersion: runbook/v1
kind: Playbook
metadata:
  name: ladder
  version: "1.0.0"   # quoted on purpose
  maturity: 1  # earned, not declared
  owner: tests
  triggers:
    - {alertname: LadderDown, labels: {team: sre}}
targets: [ladder-host]
sli:
  probe:
    command: {run: "grep -qx good STATE"}
  settle: 0s
  samples: 1
  interval: 200ms
  timeout: 5s
steps:
  # the fix writes the word back
  - id: fix
    timeout: 10s
    shell: {run: "echo good > STATE"}
    undo: {shell: {run: "true"}}
drill:
  inject:
    - id: break_it
      timeout: 10s
      shell: {run: "echo bad > STATE"}
      undo: {shell: {run: "echo good > STATE"}}
  detect_within: 5s
"""

BOARD_KEYS = {
    *("file", "playbook", "version", "evidence_hash", "declared", "effective", "demoted_by"),
    *("next_level", "verdict", "missing", "rules", "evidence", "changes", "tabletops"),
}
RULE_KEYS = {"rule", "status", "found", "needed", "says", "rows"}
ROW_KEYS = {"id", "kind", "at", "outcome", "ok", "detail", "detected_after", "recovered_after"}


def _ladder(text: str = LADDER) -> Path:
    work = current_env().work
    state = work / "state"
    state.write_text("good\n")
    path = work / "ladder.yaml"
    path.write_text(text.replace("STATE", str(state)))
    return path


def _break(path: Path) -> None:
    (path.parent / "state").write_text("bad\n")


def _guided_run(path: Path) -> None:
    """A level-1 run at a terminal, every step answered done (the SLI is healthy: --force)."""
    child = spawn_terminal("run", str(path), "--force")
    child.expect(r"result \(done, failed, skipped\) \[done\]: ")
    child.sendline("done")
    child.expect(r"note \(optional\)")
    child.sendline("")
    assert finish_terminal(child) == 0


def _supervised_run(path: Path) -> str:
    _break(path)
    ran = runbook("run", str(path), "--yes")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    return run_id_of(ran.stdout)


def _board(*paths: Path) -> list[dict[str, Any]]:
    shown = runbook("maturity", *map(str, paths), "--output", "json")
    assert shown.returncode == 0, shown.stdout + shown.stderr
    found: list[dict[str, Any]] = json.loads(shown.stdout)
    return found


def _rules(entry: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {rule["rule"]: rule for rule in entry["rules"]}


def _changed_lines(before: str, after: str) -> list[str]:
    return [
        line
        for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and line[:3] not in ("+++", "---")
    ]


def test_the_manual_ladder_from_1_to_3_on_evidence() -> None:
    path = _ladder()
    original = path.read_text()

    (entry,) = _board(path)
    assert (entry["declared"], entry["effective"], entry["next_level"]) == (1, 1, 2)
    assert entry["verdict"] == "inconclusive" and entry["missing"] == ["guided_runs"]
    asked = runbook("promote", str(path), "--to", "2", "--yes")
    assert asked.returncode == 6, asked.stdout + asked.stderr
    assert "0 of 3 guided runs" in asked.stdout and path.read_text() == original

    for _ in range(3):
        _guided_run(path)
    promoted = runbook("promote", str(path), "--to", "2", "--yes")

    assert promoted.returncode == 0, promoted.stdout + promoted.stderr
    after = path.read_text()
    assert _changed_lines(original, after) == [
        "-  maturity: 1  # earned, not declared",
        "+  maturity: 2  # earned, not declared",
    ]
    assert runbook("validate", str(path)).returncode == 0

    (entry,) = _board(path)
    assert (entry["declared"], entry["next_level"], entry["verdict"]) == (2, 3, "inconclusive")
    missing = ["supervised_runs", "success_rate", "passed_drills", "exercised_undos"]
    assert entry["missing"] == missing
    supervised = [_supervised_run(path) for _ in range(5)]
    (entry,) = _board(path)
    assert entry["missing"] == ["passed_drills", "exercised_undos"]
    assert _rules(entry)["supervised_runs"]["rows"] == supervised

    drilled = runbook("drill", str(path), "--yes", "--output", "json", timeout=120)
    assert drilled.returncode == 0, drilled.stdout + drilled.stderr
    report = json.loads(drilled.stdout)
    (entry,) = _board(path)
    rules = _rules(entry)
    assert set(entry) == BOARD_KEYS and all(set(rule) == RULE_KEYS for rule in entry["rules"])
    assert all(set(row) == ROW_KEYS for row in entry["evidence"])
    assert {row["kind"] for row in entry["evidence"]} == {
        "guided_run",
        "supervised_run",
        "drill",
        "exercised_undo",
    }
    assert entry["verdict"] == "promote" and entry["missing"] == []
    assert rules["passed_drills"]["rows"] == [report["drill_id"]]
    revert = next(part["run_id"] for part in report["parts"] if part["name"] == "revert")
    assert rules["exercised_undos"]["rows"] == [revert]
    assert rules["success_rate"]["found"] == 1.0
    explained = runbook("promote", str(path), "--to", "3", "--explain")
    assert explained.returncode == 0 and report["drill_id"] in explained.stdout
    assert path.read_text() == after  # --explain changes nothing

    promoted = runbook("promote", str(path), "--to", "3", "--yes")

    assert promoted.returncode == 0, promoted.stdout + promoted.stderr
    assert _changed_lines(after, path.read_text()) == [
        "-  maturity: 2  # earned, not declared",
        "+  maturity: 3  # earned, not declared",
    ]
    assert runbook("validate", str(path), "--strict").returncode == 0
    (entry,) = _board(path)
    assert (entry["declared"], entry["effective"], entry["next_level"]) == (3, 3, None)
    first, second = entry["changes"]
    assert (first["action"], first["from_level"], first["to_level"]) == ("promote", 1, 2)
    assert (second["from_level"], second["to_level"], second["operator"]) == (
        2,
        3,
        "test-operator",
    )
    assert set(second["evidence"]) == {*supervised, report["drill_id"], revert}


def test_an_edit_resets_the_evidence_and_a_promotion_keeps_it() -> None:
    path = _ladder()
    for _ in range(3):
        _guided_run(path)
    assert runbook("promote", str(path), "--to", "2", "--yes").returncode == 0
    (entry,) = _board(path)
    assert [row["kind"] for row in entry["evidence"]] == ["guided_run"] * 3  # kept

    edited = path.read_text().replace('version: "1.0.0"', 'version: "1.0.1"')
    path.write_text(edited.replace("timeout: 10s", "timeout: 12s", 1))

    (entry,) = _board(path)
    assert entry["verdict"] == "inconclusive" and entry["evidence"] == []
    assert _rules(entry)["supervised_runs"]["found"] == 0 and entry["changes"] == []


def test_runs_recorded_before_the_evidence_hash_count_by_their_content_hash() -> None:
    path = _ladder()
    for _ in range(3):
        _guided_run(path)
    with closing(sqlite3.connect(current_env().ledger)) as conn, conn:
        conn.execute("UPDATE runs SET evidence_hash = NULL")  # as an older engine left them
    path.write_text(path.read_text().replace("maturity: 1", "maturity: 2"))

    (entry,) = _board(path)

    assert [row["kind"] for row in entry["evidence"]] == ["guided_run"] * 3
    path.write_text(path.read_text().replace("timeout: 10s", "timeout: 11s", 1))
    assert _board(path)[0]["evidence"] == []


def test_a_changed_file_under_its_recorded_version_is_refused() -> None:
    path = _ladder()
    _guided_run(path)
    path.write_text(path.read_text().replace("timeout: 10s", "timeout: 12s", 1))

    ran = runbook("run", str(path), "--force", "--yes")

    assert ran.returncode == 2, ran.stdout + ran.stderr
    assert f"{path}:6:12: version 1.0.0 of ladder was recorded with other content" in ran.stderr


def test_a_drill_of_a_changed_file_under_its_recorded_version_injects_nothing() -> None:
    path = _ladder(LADDER.replace("maturity: 1", "maturity: 2"))
    _supervised_run(path)
    path.write_text(path.read_text().replace("detect_within: 5s", "detect_within: 6s"))
    state = path.parent / "state"
    state.write_text("good\n")

    drilled = runbook("drill", str(path), "--yes")

    assert drilled.returncode == 2, drilled.stdout + drilled.stderr
    assert "recorded with other content" in drilled.stderr and "bump `version`" in drilled.stderr
    assert state.read_text() == "good\n"  # nothing injected
    (kept,) = json.loads(runbook("drills", "--output", "json").stdout)  # kept as refused
    assert (kept["status"], kept["inject_run"]) == ("refused", None)


def test_a_failed_rollback_refuses_the_promotion_with_its_run(tmp_path: Path) -> None:
    text = LADDER.replace("maturity: 1", "maturity: 2")
    text = text.replace('shell: {run: "echo good > STATE"}', 'shell: {run: "exit 1"}')
    path = _ladder(text.replace('undo: {shell: {run: "true"}}', 'undo: {shell: {run: "exit 1"}}'))
    # the step fails: the undo of a step that did not complete is not run; a second step
    # that completed first gives the rollback something to fail on
    path.write_text(
        path.read_text().replace(
            "steps:\n",
            'steps:\n  - id: first\n    timeout: 10s\n    shell: {run: "true"}\n'
            '    undo: {shell: {run: "exit 1"}}\n',
        )
    )
    _break(path)
    ran = runbook("run", str(path), "--yes")
    assert ran.returncode == 4, ran.stdout + ran.stderr
    failed = run_id_of(ran.stdout)

    asked = runbook("promote", str(path), "--to", "3", "--yes")

    assert asked.returncode == 5, asked.stdout + asked.stderr
    (entry,) = _board(path)
    assert entry["verdict"] == "refuse"
    rule = _rules(entry)["rollback_failed"]
    assert (rule["status"], rule["rows"]) == ("violated", [failed])


def test_a_policy_file_sets_the_numbers_and_a_low_success_rate_refuses() -> None:
    path = _ladder(LADDER.replace("maturity: 1", "maturity: 2"))
    policy = current_env().work / "policy.yaml"
    policy.write_text("to_3:\n  supervised_runs: 2\n  success_rate: 1.0\n")
    _supervised_run(path)
    path_text = path.read_text()
    state = path.parent / "state"
    state.unlink()
    state.mkdir()  # the service is down and the fix cannot write the word back
    failed = runbook("run", str(path), "--yes")
    assert failed.returncode != 0, failed.stdout + failed.stderr
    assert path.read_text() == path_text

    asked = runbook("promote", str(path), "--to", "3", "--policy", str(policy))

    assert asked.returncode == 5, asked.stdout + asked.stderr
    assert "VIOLATED success_rate: 1 of 2 supervised runs" in asked.stdout
    default = runbook("promote", str(path), "--to", "3")  # the built-in 5 runs: too few
    assert default.returncode == 6, default.stdout + default.stderr


def test_a_bad_policy_file_is_refused_at_its_line(tmp_path: Path) -> None:
    path = _ladder()
    policy = current_env().work / "policy.yaml"
    for text, line, said in [
        ("to_3:\n  within: 30 days\n", 2, "to_3.within: expected days"),
        ("to_2:\n  guided: 3\n", 2, "unknown field"),
        ("to_3:\n  success_rate: 2\n", 2, "to_3.success_rate"),
    ]:
        policy.write_text(text)
        asked = runbook("maturity", str(path), "--policy", str(policy))
        assert asked.returncode == 2, asked.stdout + asked.stderr
        assert f"{policy}:{line}:" in asked.stderr and said in asked.stderr, asked.stderr
        assert "Traceback" not in asked.stderr


def test_an_invalid_playbook_in_a_folder_is_reported_and_the_others_are_on_the_board() -> None:
    folder = current_env().work / "board"
    folder.mkdir()
    good = _ladder()
    good = good.rename(folder / "ladder.yaml")
    bad = folder / "broken.yaml"
    bad.write_text(good.read_text().replace("  owner: tests\n", "  owner: tests\n  ownr: x\n"))
    worse = folder / "unparsable.yaml"
    worse.write_text("apiVersion: runbook/v1\nkind: Playbook\nmetadata: [\n")

    for output in ("text", "json"):
        shown = runbook("maturity", str(folder), "--output", output)

        assert shown.returncode == 1, shown.stdout + shown.stderr
        assert f"{bad}:9:3:" in shown.stderr and "ownr" in shown.stderr, shown.stderr
        assert f"{worse}:" in shown.stderr and "Traceback" not in shown.stderr
        assert "2 invalid playbook(s) not on the board" in shown.stderr
        if output == "json":
            assert [entry["file"] for entry in json.loads(shown.stdout)] == [str(good)]
        else:
            assert f"ladder 1.0.0 — level 1  ({good})" in shown.stdout, shown.stdout


def test_the_default_policy_file_under_runbook_home_is_read() -> None:
    path = _ladder()
    home = current_env().home
    home.mkdir(parents=True, exist_ok=True)
    (home / "maturity-policy.yaml").write_text("to_2: {guided_runs: 1}\n")
    _guided_run(path)

    (entry,) = _board(path)

    assert entry["verdict"] == "promote"


def test_promote_goes_one_level_up_only() -> None:
    path = _ladder(LADDER.replace("maturity: 1", "maturity: 2"))
    for level, said in [("3", None), ("2", "is no promotion"), ("1", "runbook demote")]:
        asked = runbook("promote", str(path), "--to", level, "--yes")
        if said is None:
            assert asked.returncode == 6, asked.stdout + asked.stderr
            continue
        assert asked.returncode == 2 and said in asked.stderr, asked.stderr
    path = _ladder()
    skipped = runbook("promote", str(path), "--to", "3", "--yes")
    assert skipped.returncode == 2 and "one level at a time" in skipped.stderr


def test_a_promotion_without_a_terminal_needs_yes() -> None:
    path = _ladder()
    for _ in range(3):
        _guided_run(path)
    before = path.read_text()

    asked = runbook("promote", str(path), "--to", "2")

    assert asked.returncode == 5 and "--yes" in asked.stderr, asked.stderr
    assert path.read_text() == before


def test_a_promotion_is_asked_at_a_terminal_and_no_changes_nothing() -> None:
    path = _ladder()
    for _ in range(3):
        _guided_run(path)
    before = path.read_text()
    child = spawn_terminal("promote", str(path), "--to", "2")
    child.expect("to level 2: promote")
    child.expect(r"promote ladder 1.0.0 to level 2\? \[y/N\]")
    child.sendline("n")
    assert finish_terminal(child) == 5
    assert path.read_text() == before

    child = spawn_terminal("promote", str(path), "--to", "2")
    child.expect(r"\[y/N\]")
    child.sendline("y")
    child.expect("promoted to level 2")
    child.expect(pexpect.EOF)
    assert "maturity: 2" in path.read_text()


def test_a_ledger_that_cannot_record_the_sign_off_leaves_the_file_as_it_was() -> None:
    path = _ladder()
    for _ in range(3):
        _guided_run(path)
    before = path.read_text()
    with closing(sqlite3.connect(current_env().ledger)) as conn, conn:
        conn.execute(
            "CREATE TRIGGER full BEFORE INSERT ON maturity_changes"
            " BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
        )

    asked = runbook("promote", str(path), "--to", "2", "--yes")

    assert asked.returncode == 2, asked.stdout + asked.stderr
    assert "cannot record the sign-off" in asked.stderr and "Traceback" not in asked.stderr
    assert path.read_text() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["ladder.yaml", "state"]


def test_demote_writes_the_level_in_a_flow_mapping_and_records_why() -> None:
    text = LADDER.replace(
        'metadata:\n  name: ladder\n  version: "1.0.0"   # quoted on purpose\n'
        "  maturity: 1  # earned, not declared\n  owner: tests\n"
        "  triggers:\n    - {alertname: LadderDown, labels: {team: sre}}\n",
        "metadata: {name: ladder, version: '1.0.0', maturity: 2, owner: tests,"
        " triggers: [{alertname: LadderDown}]}  # one line\n",
    )
    path = _ladder(text)
    before = path.read_text()
    assert "maturity: 2" in before

    refused = runbook("demote", str(path), "--to", "2", "--reason", "flaky")
    assert refused.returncode == 2 and "no demotion" in refused.stderr
    demoted = runbook("demote", str(path), "--to", "1", "--reason", "paged twice at night")

    assert demoted.returncode == 0, demoted.stdout + demoted.stderr
    line = (
        "metadata: {name: ladder, version: '1.0.0', maturity: LEVEL, owner: tests,"
        " triggers: [{alertname: LadderDown}]}  # one line"
    )
    assert _changed_lines(before, path.read_text()) == [
        "-" + line.replace("LEVEL", "2"),
        "+" + line.replace("LEVEL", "1"),
    ]
    (entry,) = _board(path)
    assert entry["declared"] == 1
    (change,) = entry["changes"]
    assert (change["action"], change["from_level"], change["to_level"]) == ("demote", 2, 1)
    assert (change["reason"], change["operator"]) == ("paged twice at night", "test-operator")


def test_a_sign_off_changes_the_one_digit_of_a_crlf_file_with_a_bom() -> None:
    path = _ladder(LADDER.replace("maturity: 1", "maturity: 2"))
    before = b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n")
    path.write_bytes(before)

    demoted = runbook("demote", str(path), "--to", "1", "--reason", "paged twice at night")

    assert demoted.returncode == 0, demoted.stdout + demoted.stderr
    assert path.read_bytes() == before.replace(b"maturity: 2", b"maturity: 1")


def test_a_sign_off_through_a_symlink_writes_the_file_it_points_to_and_keeps_the_link() -> None:
    target = _ladder(LADDER.replace("maturity: 1", "maturity: 2"))
    link = target.parent / "linked.yaml"
    link.symlink_to(target)

    demoted = runbook("demote", str(link), "--to", "1", "--reason", "paged twice at night")

    assert demoted.returncode == 0, demoted.stdout + demoted.stderr
    assert link.is_symlink() and link.resolve() == target.resolve()
    assert "maturity: 1" in target.read_text()


def test_a_run_that_fails_while_the_promotion_is_asked_refuses_it() -> None:
    path = _ladder(LADDER.replace("maturity: 1", "maturity: 2"))
    policy = current_env().work / "policy.yaml"
    policy.write_text(
        "to_3: {supervised_runs: 1, success_rate: 1.0, passed_drills: 0, exercised_undos: 0}\n"
    )
    _supervised_run(path)
    before = path.read_text()
    child = spawn_terminal("promote", str(path), "--to", "3", "--policy", str(policy))
    child.expect("to level 3: promote")
    child.expect(r"\[y/N\]")
    state = path.parent / "state"
    state.unlink()
    state.mkdir()  # the service is down and the fix cannot write the word back
    failed = runbook("run", str(path), "--yes")
    assert failed.returncode not in (0, 2, 5), failed.stdout + failed.stderr

    child.sendline("y")

    assert finish_terminal(child) == 5
    assert "not promoted: the verdict is refuse" in (child.before or "")
    assert path.read_text() == before
    (entry,) = _board(path)
    assert entry["changes"] == []  # no sign-off recorded


def test_a_run_whose_engine_died_is_no_evidence_either_way() -> None:
    hangs = '"if [ -e HANG ]; then echo $$ > HANG; sleep 30; fi; echo good > STATE"'
    text = LADDER.replace("maturity: 1", "maturity: 2")
    path = _ladder(text.replace('"echo good > STATE"', hangs, 1))
    hang = path.parent / "hang"
    path.write_text(path.read_text().replace("HANG", str(hang)))
    good = _supervised_run(path)
    hang.write_text("")
    _break(path)
    engine = start_engine("run", str(path), "--yes")
    wait_for(lambda: hang.read_text().strip() != "", what="the step")
    kill_group_after_test(int(hang.read_text()))
    engine.send_signal(signal.SIGKILL)
    engine.communicate(timeout=10)
    recovered = runbook("recover")
    assert recovered.returncode == 0 and "interrupted: " in recovered.stdout, recovered.stdout

    (entry,) = _board(path)

    assert [(row["id"], row["kind"]) for row in entry["evidence"]] == [(good, "supervised_run")]
    assert _rules(entry)["success_rate"]["says"] == "1 of 1 supervised runs recovered or completed"


def test_a_level_written_2_0_is_the_level_2() -> None:
    path = _ladder(LADDER.replace("maturity: 1", "maturity: 2.0"))

    (entry,) = _board(path)

    assert (entry["declared"], entry["next_level"]) == (2, 3)
    assert isinstance(entry["declared"], int) and isinstance(entry["next_level"], int)
    assert "ladder 1.0.0 — level 2  (" in runbook("maturity", str(path)).stdout
