"""Target locks: one run (or rollback) at a time per rendered target, across processes;
a held target refuses at once (exit 5, naming the holder) or is waited for; a dead
holder's lease is taken over; every taking of a target has a larger epoch."""

from __future__ import annotations

import json
import re
import signal
import sqlite3
import subprocess
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from run_fixtures import (
    current_env,
    events,
    finish_terminal,
    lines,
    playbook,
    run_env,  # noqa: F401  (autouse fixture)
    run_id_of,
    runbook,
    runs_json,
    spawn_terminal,
    start_engine,
    wait_for,
)

from engine.ledger.locks import RENEW_EVERY

LOCKED = playbook("locked.yaml")


def run_locked(*extra: str) -> subprocess.Popen[str]:
    """`runbook run locked.yaml` in the background; its step `one` holds until released."""
    return start_engine("run", LOCKED, "-i", f"dir={current_env().work}", *extra)


def finish(engine: subprocess.Popen[str], timeout: float = 60) -> tuple[int, str]:
    output, _ = engine.communicate(timeout=timeout)
    return engine.returncode, output


def release() -> None:
    (current_env().work / "release").touch()


def started() -> list[str]:
    return lines(current_env().work / "started")


def locks_json() -> list[dict[str, Any]]:
    listed = runbook("locks", "--output", "json")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    rows: list[dict[str, Any]] = json.loads(listed.stdout)
    return rows


def lock_data(run_id: str, kind: str) -> dict[str, Any]:
    found = events(run_id, kind)
    assert len(found) == 1, (kind, events(run_id))
    data: dict[str, Any] = found[0]["data"]
    return data


def test_of_parallel_runs_on_one_target_one_runs_and_the_others_are_refused_naming_it() -> None:
    engines = [run_locked() for _ in range(8)]
    wait_for(lambda: sum(e.poll() is not None for e in engines) == 7, 60, "7 refusals")
    holding = [e for e in engines if e.poll() is None]
    assert len(holding) == 1
    held = locks_json()
    assert [(row["target"], row["state"], row["pid"]) for row in held] == [
        ("db/db-1", "held", holding[0].pid)
    ]
    plan = runbook("plan", LOCKED, "-i", f"dir={current_env().work}")
    assert plan.returncode == 0, plan.stdout + plan.stderr  # a dry run takes no lock
    release()

    results = [finish(e) for e in engines]

    assert started() == ["db-1"]  # exactly one run ever got to step 1
    assert lines(current_env().work / "done") == ["one", "two"]
    holder_id = run_id_of(results[engines.index(holding[0])][1])
    refused = [(code, out) for code, out in results if code != 0]
    assert [code for code, _ in refused] == [5] * 7
    for _, output in refused:
        assert f"target 'db/db-1' is locked by run {holder_id} (host " in output
        assert f"pid {holding[0].pid}, since " in output
        refused_id = run_id_of(output)
        assert lock_data(refused_id, "lock_refused")["holder"]["run_id"] == holder_id
        assert [e["kind"] for e in events(refused_id, "step_intent")] == []
    assert [e["kind"] for e in events(holder_id) if e["kind"].startswith("lock_")] == [
        "lock_taken",
        "lock_released",
    ]
    assert locks_json() == []


def test_runs_on_different_targets_run_at_the_same_time() -> None:
    first, second = run_locked("-i", "target=db-1"), run_locked("-i", "target=db-2")
    wait_for(lambda: len(started()) == 2, 30, "both runs in step one")

    assert sorted(row["target"] for row in locks_json()) == ["db/db-1", "db/db-2"]
    release()
    assert finish(first)[0] == 0
    assert finish(second)[0] == 0


def test_wait_lock_waits_for_the_holder_then_runs() -> None:
    holder = run_locked()
    wait_for(lambda: started() == ["db-1"], 30, "the holder in step one")
    waiter = run_locked("--wait-lock", "30s")
    impatient = runbook("run", LOCKED, "-i", f"dir={current_env().work}", "--wait-lock", "1s")
    assert impatient.returncode == 5, impatient.stdout + impatient.stderr
    waited = re.search(r"; waited ([0-9.]+)s", impatient.stdout)
    assert waited is not None and float(waited.group(1)) >= 1.0, impatient.stdout
    assert waiter.poll() is None
    release()

    code, output = finish(waiter)

    assert code == 0, output
    holder_id = run_id_of(finish(holder)[1])
    assert started() == ["db-1", "db-1"]
    waiter_id = run_id_of(output)
    waited = lock_data(waiter_id, "lock_waited")
    assert (waited["target"], waited["holder"]["run_id"]) == ("db/db-1", holder_id)
    taken = lock_data(waiter_id, "lock_taken")
    assert taken["waited"] > 0
    assert taken["epochs"] == {
        "db/db-1": lock_data(holder_id, "lock_taken")["epochs"]["db/db-1"] + 1
    }
    shown = runbook("show", waiter_id)
    assert f"lock_waited: waiting for target db/db-1, locked by run {holder_id} (host " in (
        shown.stdout
    )
    assert re.search(
        r"lock_taken: locked targets db/db-1 \(lease epoch \d+\) after waiting ", shown.stdout
    )


def test_a_bad_wait_lock_duration_is_a_usage_error() -> None:
    bad = runbook("run", LOCKED, "-i", f"dir={current_env().work}", "--wait-lock", "soon")

    assert bad.returncode == 2, bad.stdout + bad.stderr
    assert "--wait-lock: 'soon' is not a duration" in bad.stderr
    assert "Traceback" not in bad.stderr
    assert runs_json() == []


def test_the_lease_of_a_killed_holder_is_taken_over() -> None:
    holder = run_locked()
    wait_for(lambda: started() == ["db-1"], 30, "the holder in step one")
    [held] = locks_json()
    holder.send_signal(signal.SIGKILL)
    finish(holder)
    release()  # the killed engine's step ends too

    again = runbook("run", LOCKED, "-i", f"dir={current_env().work}")

    assert again.returncode == 0, again.stdout + again.stderr
    taken = lock_data(run_id_of(again.stdout), "lock_taken")
    assert taken["epochs"] == {"db/db-1": held["epoch"] + 1}
    [over] = taken["taken_over"]
    assert (over["run_id"], over["state"], over["pid"]) == (
        held["run_id"],
        "owner dead",
        held["pid"],
    )
    assert locks_json() == []


def test_every_taking_of_a_target_has_a_larger_epoch() -> None:
    release()
    epochs = []
    for _ in range(3):
        ran = runbook("run", LOCKED, "-i", f"dir={current_env().work}")
        assert ran.returncode == 0, ran.stdout + ran.stderr
        epochs.append(lock_data(run_id_of(ran.stdout), "lock_taken")["epochs"]["db/db-1"])

    assert epochs == [1, 2, 3]


def completed_run() -> str:
    """A completed run of locked.yaml whose undo of `one` takes a second."""
    release()
    ran = runbook("run", LOCKED, "-i", f"dir={current_env().work}", "-i", "undo_hold=1")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    return run_id_of(ran.stdout)


def undo_runs(run_id: str) -> list[str]:
    rollbacks = [r["run_id"] for r in runs_json() if r["parent_run"] == run_id]
    return [r for r in rollbacks if events(r, "undo_result")]


def test_of_parallel_rollbacks_of_one_run_one_undoes_and_the_others_are_refused() -> None:
    run_id = completed_run()

    rollbacks = [start_engine("rollback", "--yes", run_id) for _ in range(5)]
    results = [finish(r) for r in rollbacks]

    assert lines(current_env().work / "undone") == ["two", "one"]
    assert len(undo_runs(run_id)) == 1
    codes = sorted(code for code, _ in results)
    assert codes.count(0) >= 1 and set(codes) <= {0, 5}, results
    for code, output in results:
        if code == 5:
            assert "target 'db/db-1' is locked by run " in output
        elif "nothing to undo" in output:
            assert f"run {run_id} was already rolled back" in output


def test_parallel_rollbacks_that_wait_undo_once_and_the_others_say_so() -> None:
    run_id = completed_run()

    rollbacks = [start_engine("rollback", "--yes", run_id, "--wait-lock", "60s") for _ in range(5)]
    results = [finish(r) for r in rollbacks]

    assert [code for code, _ in results] == [0] * 5, results
    assert lines(current_env().work / "undone") == ["two", "one"]
    [undoer] = undo_runs(run_id)
    said = [output for _, output in results if "nothing to undo" in output]
    assert len(said) == 4
    assert all(f"was already rolled back (by run {undoer})" in output for output in said)
    assert lock_data(undoer, "lock_taken")["targets"] == ["db/db-1", f"rollback:{run_id}"]
    again = runbook("rollback", "--yes", run_id)
    assert again.returncode == 0
    assert f"nothing to undo: run {run_id} was already rolled back" in again.stdout
    assert lines(current_env().work / "undone") == ["two", "one"]


def test_a_target_that_renders_with_blanks_is_refused_before_anything_runs(tmp_path: Path) -> None:
    text = Path(LOCKED).read_text().replace("pattern: '^[a-z0-9-]+$', ", "")
    path = tmp_path / "loose.yaml"
    path.write_text(text)

    ran = runbook("run", str(path), "-i", f"dir={current_env().work}", "-i", "target=x ")

    assert ran.returncode == 2, ran.stdout + ran.stderr
    assert (
        "targets[0] 'db/{{ inputs.target }}' renders to 'db/x ', with blanks around it"
        in ran.stderr
    )
    assert runs_json() == []
    assert started() == []
    for obeyed in ("\u202e", "\x9b"):  # a bidi override, an 8-bit CSI: shown in `locks`
        ran = runbook(
            "run", str(path), "-i", f"dir={current_env().work}", "-i", f"target=x{obeyed}y"
        )
        assert ran.returncode == 2, ran.stdout + ran.stderr
        assert "with a control character" in ran.stderr
    assert runs_json() == []


def test_ctrl_c_while_waiting_for_a_lock_aborts_before_anything_runs() -> None:
    holder = run_locked()
    wait_for(lambda: started() == ["db-1"], 30, "the holder in step one")
    waiter = run_locked("--wait-lock", "60s")
    wait_for(lambda: len(runs_json()) == 2, 30, "the waiting run recorded")
    [waiting] = [
        r["run_id"]
        for r in runs_json()
        if r["status"] == "running" and r["run_id"] != run_id_of_locks()
    ]
    wait_for(lambda: bool(events(waiting, "lock_waited")), 30, "the wait recorded")

    waiter.send_signal(signal.SIGINT)
    code, output = finish(waiter)

    assert code == 130, output
    assert "interrupted while waiting for target 'db/db-1'" in output
    assert events(waiting, "step_intent") == []
    release()
    assert finish(holder)[0] == 0
    assert started() == ["db-1"]


def run_id_of_locks() -> str:
    [held] = locks_json()
    return str(held["run_id"])


def test_a_run_whose_lease_was_taken_over_stops_before_its_next_step_and_undoes_nothing() -> None:
    holder = run_locked()
    wait_for(lambda: started() == ["db-1"], 30, "the holder in step one")
    holder_id = run_id_of_locks()
    # An engine on another host took the target (say this one was frozen past its lease).
    with closing(sqlite3.connect(current_env().ledger)) as conn, conn:
        conn.execute(
            "UPDATE target_locks SET run_id = 'r-elsewhere', owner_host = 'another-host',"
            " owner_pid = 1, epoch = epoch + 1, expires_at = ?",
            (time.time() + 600,),
        )
    time.sleep(RENEW_EVERY + 5)  # the holder's next renewal finds the lease gone
    release()

    code, output = finish(holder)

    assert code == 1, output
    assert "the lock on db/db-1 was taken over by another run: stopped before two" in output
    assert lines(current_env().work / "done") == ["one"]
    assert lines(current_env().work / "undone") == []
    assert [e["step_id"] for e in events(holder_id, "lock_lost")] == ["two"]
    assert (
        "lock_lost two: lost the targets' lock (the lock on db/db-1 was taken over by another run):"
        " stopped here\n" in runbook("show", holder_id).stdout
    )
    assert [row["run_id"] for row in locks_json()] == ["r-elsewhere"]  # not released by it
    later = runbook("rollback", "--yes", holder_id)
    assert later.returncode == 5, later.stdout + later.stderr
    assert "target 'db/db-1' is locked by run r-elsewhere (host another-host, pid 1" in later.stdout


def test_at_a_terminal_the_live_table_says_what_the_run_waits_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    holder = run_locked()
    wait_for(lambda: started() == ["db-1"], 30, "the holder in step one")
    holder_id = run_id_of_locks()
    listed = runbook("locks")
    assert listed.stdout.splitlines()[0].split() == [
        *("TARGET", "RUN", "HOST", "PID", "SINCE", "EXPIRES", "EPOCH", "STATE")
    ]
    assert listed.stdout.splitlines()[1].split()[:2] == ["db/db-1", holder_id]

    monkeypatch.delenv("RUNBOOK_PLAIN")  # the live table
    waiter = spawn_terminal("run", LOCKED, "-i", f"dir={current_env().work}", "--wait-lock", "30s")
    waiter.expect("waiting for target")  # under the table, wrapped to its width
    waiter.expect(holder_id)
    release()

    assert finish_terminal(waiter, 60) == 0
    assert finish(holder)[0] == 0
    assert runbook("locks").stdout.strip() == "no target is locked"


def test_parallel_rollbacks_of_a_run_without_targets_undo_once(tmp_path: Path) -> None:
    path = tmp_path / "untargeted.yaml"
    path.write_text(Path(LOCKED).read_text().replace('targets: ["db/{{ inputs.target }}"]\n', ""))
    release()
    ran = runbook("run", str(path), "-i", f"dir={current_env().work}", "-i", "undo_hold=1")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    run_id = run_id_of(ran.stdout)

    rollbacks = [start_engine("rollback", "--yes", run_id) for _ in range(5)]
    results = [finish(r) for r in rollbacks]

    assert lines(current_env().work / "undone") == ["two", "one"]
    assert len(undo_runs(run_id)) == 1
    refused = [output for code, output in results if code == 5]
    assert all(f"target 'rollback:{run_id}' is locked by run " in out for out in refused)
    assert sorted({code for code, _ in results}) in ([0], [0, 5]), results


def test_a_target_that_holds_a_secret_is_refused_before_anything_runs(tmp_path: Path) -> None:
    # By reference: a validation error at the template. By value (an input that carries
    # the secret's text): refused once rendered. Either way the secret is shown nowhere.
    path = tmp_path / "secret-target.yaml"
    text = (
        Path(LOCKED)
        .read_text()
        .replace("targets: [", "secrets:\n  tok: {env: LOCK_TOKEN}\ntargets: [")
    )
    lock_input = text.replace("inputs:\n", "inputs:\n  lock: {type: string}\n", 1)
    path.write_text(lock_input.replace("db/{{ inputs.target }}", "db/{{ inputs.lock }}"))
    by_reference = tmp_path / "secret-reference.yaml"
    by_reference.write_text(text.replace("db/{{ inputs.target }}", "db/{{ secrets.tok }}"))
    secret = {"LOCK_TOKEN": "hunter2-xyz"}

    referenced = runbook(
        "run", str(by_reference), "-i", f"dir={current_env().work}", extra_env=secret
    )
    carried = runbook(
        "run", str(path), "-i", f"dir={current_env().work}", "-i", "lock=hunter2-xyz",
        extra_env=secret,
    )  # fmt: skip

    assert referenced.returncode == 2, referenced.stdout + referenced.stderr
    assert f"{by_reference}:12:11: targets[0]: secret 'tok' in a target" in referenced.stderr
    assert carried.returncode == 2, carried.stdout + carried.stderr
    assert "targets[0] 'db/{{ inputs.lock }}' renders to a text holding a secret" in carried.stderr
    for ran in (referenced, carried):
        assert "hunter2-xyz" not in ran.stdout + ran.stderr
    assert runs_json() == []
    assert started() == []


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_aborted_run_releases_its_targets_after_its_rollback(signum: int) -> None:
    holder = run_locked()
    wait_for(lambda: started() == ["db-1"], 30, "the holder in step one")
    holder_id = run_id_of_locks()

    holder.send_signal(signum)
    code, output = finish(holder)

    assert code == 130, output
    kinds = [e["kind"] for e in events(holder_id)]
    assert kinds.index("lock_released") > kinds.index("rollback_started")
    assert kinds[-2:] == ["lock_released", "run_finished"]
    assert locks_json() == []
    release()
    assert runbook("run", LOCKED, "-i", f"dir={current_env().work}").returncode == 0


def test_steps_read_their_lease_epoch_as_a_fencing_token(tmp_path: Path) -> None:
    path = tmp_path / "token.yaml"
    token_step = (
        "  - id: token\n    readonly: true\n    shell:\n"
        "      run: \"echo {{ run.locks['db/' ~ inputs.target] }} >> {{ inputs.dir }}/tokens\"\n"
    )
    path.write_text(Path(LOCKED).read_text().replace("steps:\n", "steps:\n" + token_step, 1))
    release()

    for _ in range(2):
        ran = runbook("run", str(path), "-i", f"dir={current_env().work}")
        assert ran.returncode == 0, ran.stdout + ran.stderr
    plan = runbook("plan", str(path), "-i", f"dir={current_env().work}")

    assert lines(current_env().work / "tokens") == ["1", "2"]
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert "<run.locks.db/db-1>" in plan.stdout  # known once the run holds it
