"""Group targets: serial by default or `parallel: N`, per-host results, a failure on any
host fails the step and its undo runs only where it succeeded; jump hosts."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from run_fixtures import (
    current_env,
    events,
    run_env,  # noqa: F401  (autouse fixture)
    run_id_of,
    runbook,
)
from sshd_fixtures import SshServer, ssh_playbook


def _group_inventory(sshd: SshServer, **extra: Any) -> str:
    """Hosts web1, web2, web3: three names for the same sshd; group `web`."""
    hosts = {name: sshd.host() for name in ("web1", "web2", "web3")}
    hosts.update(extra)
    path = sshd.inventory(
        current_env().work / "inventory.yaml", hosts, {"web": ["web1", "web2", "web3"]}
    )
    return str(path)


def _run_group(sshd: SshServer, remote_dir: Path, playbook: str, bad: str) -> Any:
    return runbook(
        "run", playbook, "--inventory", _group_inventory(sshd),
        "-i", "target=web", "-i", f"dir={remote_dir}", "-i", f"bad={bad}",
    )  # fmt: skip


def _step(run_id: str, step_id: str) -> dict[str, Any]:
    return next(e["data"] for e in events(run_id, "step_result") if e["step_id"] == step_id)


def test_a_group_step_runs_serially_on_every_host_with_per_host_results(
    sshd: SshServer, remote_dir: Path
) -> None:
    logins = sshd.logins()

    ran = _run_group(sshd, remote_dir, ssh_playbook("group.yaml"), "none")

    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert (remote_dir / "done").read_text().splitlines() == [
        "before web1", "before web2", "before web3",
        "change web1", "change web2", "change web3",
    ]  # fmt: skip
    change = _step(run_id_of(ran.stdout), "change")
    hosts = change["captured"]["hosts"]
    assert {name: h["status"] for name, h in hosts.items()} == dict.fromkeys(
        ("web1", "web2", "web3"), "succeeded"
    )
    assert {h["transport"] for h in hosts.values()} == {"reused"}  # `before` opened them
    assert sshd.logins() - logins == 3  # one transport per host for the whole run


def test_a_failure_on_one_host_fails_the_step_and_undoes_only_where_it_succeeded(
    sshd: SshServer, remote_dir: Path
) -> None:
    ran = _run_group(sshd, remote_dir, ssh_playbook("group.yaml"), "web2")

    assert ran.returncode == 1, ran.stdout + ran.stderr
    done = (remote_dir / "done").read_text().splitlines()
    assert done[3:] == ["change web1", "change web2"]  # serial: web3 never started
    undone = (remote_dir / "undone").read_text().splitlines()
    # `change` undone on web1 only (at once), then `before` on all three (the rollback).
    assert undone == ["change web1", "before web1", "before web2", "before web3"]
    change = _step(run_id_of(ran.stdout), "change")
    assert change["status"] == "failed"
    assert change["captured"]["hosts"]["web1"]["status"] == "succeeded"
    assert change["captured"]["hosts"]["web2"]["status"] == "failed"
    assert "web3" not in change["captured"]["hosts"]
    assert change["captured"]["undone_on"] == ["web1"]
    assert "web2: failed (exit code 1, expected 0)" in change["message"]
    assert "not started: web3" in change["message"]
    assert "undone on web1" in change["message"]


def test_an_undo_that_fails_on_the_hosts_where_the_step_succeeded_is_rollback_failed(
    sshd: SshServer, remote_dir: Path
) -> None:
    path = current_env().work / "group-bad-undo.yaml"
    text = Path(ssh_playbook("group.yaml")).read_text()
    text = text.replace("'echo \"change $RUNBOOK_HOST\" >> {{ inputs.dir }}/undone'", "'exit 9'")
    assert "exit 9" in text
    path.write_text(text)

    ran = _run_group(sshd, remote_dir, str(path), "web2")

    assert ran.returncode == 4, ran.stdout + ran.stderr  # rollback_failed, not failed
    assert "rollback_failed" in ran.stdout
    change = _step(run_id_of(ran.stdout), "change")
    assert change["captured"]["undo_status"] == "failed"
    assert "a human must look" in change["message"]
    # the other undos still ran
    assert (remote_dir / "undone").read_text().splitlines() == [
        "before web1", "before web2", "before web3",
    ]  # fmt: skip


def _parallel_playbook(parallel: int) -> str:
    path = current_env().work / "group-parallel.yaml"
    text = Path(ssh_playbook("group.yaml")).read_text()
    text = text.replace(
        '      run: \'echo "change $RUNBOOK_HOST" >> {{ inputs.dir }}/done; test',
        f"      parallel: {parallel}\n"
        '      run: \'sleep 1; echo "change $RUNBOOK_HOST" >> {{ inputs.dir }}/done; test',
    )
    path.write_text(text)
    return str(path)


def test_parallel_runs_hosts_at_once_and_still_undoes_only_where_it_succeeded(
    sshd: SshServer, remote_dir: Path
) -> None:
    began = time.monotonic()

    ran = _run_group(sshd, remote_dir, _parallel_playbook(3), "web2")

    assert ran.returncode == 1, ran.stdout + ran.stderr
    change = _step(run_id_of(ran.stdout), "change")
    assert float(change["duration"]) < 2.5  # three 1 s commands at once, not 3 s
    assert sorted((remote_dir / "done").read_text().splitlines()[3:]) == [
        "change web1", "change web2", "change web3",
    ]  # fmt: skip
    undone = (remote_dir / "undone").read_text().splitlines()
    assert sorted(undone[:2]) == ["change web1", "change web3"]
    assert undone[2:] == ["before web1", "before web2", "before web3"]
    assert change["captured"]["undone_on"] == ["web1", "web3"]
    assert time.monotonic() - began < 20


def test_a_host_behind_a_jump_host(sshd: SshServer, remote_dir: Path) -> None:
    hosts = {
        "bastion": sshd.host(),
        "inner": sshd.host(jump="bastion"),
    }
    inventory = sshd.inventory(current_env().work / "inventory.yaml", hosts)
    logins = sshd.logins()

    ran = runbook(
        "run", ssh_playbook("one.yaml"), "--inventory", str(inventory),
        "-i", "host=inner", "-i", f"marker={remote_dir}/through-bastion",
    )  # fmt: skip

    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert (remote_dir / "through-bastion").exists()
    assert sshd.logins() - logins == 2  # the bastion, then the inner host through it
