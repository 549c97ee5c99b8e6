"""Playbooks over SSH against a real sshd: captures, a failure on an unexpected exit code,
remote undo in reverse order, one transport per host per run, secrets by environment."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from run_fixtures import (
    current_env,
    events,
    ledger_bytes,
    lines,
    run_env,  # noqa: F401  (autouse fixture)
    run_id_of,
    runbook,
)
from sshd_fixtures import SshServer, ssh_playbook


def _inventory(sshd: SshServer) -> str:
    return str(sshd.inventory(current_env().work / "inventory.yaml"))


def _results(run_id: str) -> dict[str, dict[str, object]]:
    return {e["step_id"]: e["data"] for e in events(run_id, "step_result")}


def test_steps_run_remotely_capture_output_and_reuse_one_transport(
    sshd: SshServer, remote_dir: Path
) -> None:
    logins = sshd.logins()

    ran = runbook(
        "run", ssh_playbook("flow.yaml"), "--inventory", _inventory(sshd),
        "-i", "host=box", "-i", f"dir={remote_dir}",
    )  # fmt: skip

    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert lines(remote_dir / "done") == ["one", "two", f"box:{sshd.user}", "boom"]
    assert not (remote_dir / "undone").exists()
    results = _results(run_id_of(ran.stdout))
    assert results["whoami"]["value"] == f"box:{sshd.user}"  # captured, then used by `two`
    assert "about to fail" in str(results["boom"]["output"])
    # One transport for the whole run: one login, the first step opened it.
    assert sshd.logins() - logins == 1
    transports = [r["captured"]["hosts"]["box"]["transport"] for r in results.values()]  # type: ignore[index]
    assert transports == ["new", "reused", "reused", "reused"]


def test_an_unexpected_exit_code_fails_and_remote_steps_are_undone_in_reverse(
    sshd: SshServer, remote_dir: Path
) -> None:
    logins = sshd.logins()

    ran = runbook(
        "run", ssh_playbook("flow.yaml"), "--inventory", _inventory(sshd),
        "-i", "host=box", "-i", f"dir={remote_dir}", "-i", "boom_exit=7",
    )  # fmt: skip

    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert "exit code 7, expected 0" in ran.stdout
    assert lines(remote_dir / "undone") == ["two", "one"]  # reverse order; boom not undone
    run_id = run_id_of(ran.stdout)
    boom = _results(run_id)["boom"]
    assert (boom["status"], boom["exit_code"]) == ("failed", 7)
    undos = [(e["step_id"], e["data"]["status"]) for e in events(run_id, "undo_result")]
    assert undos == [("two", "succeeded"), ("one", "succeeded")]
    assert sshd.logins() - logins == 1  # the undos reused the run's transport


def test_a_later_rollback_undoes_the_remote_steps_in_reverse(
    sshd: SshServer, remote_dir: Path
) -> None:
    inventory = _inventory(sshd)
    ran = runbook(
        "run", ssh_playbook("flow.yaml"), "--inventory", inventory,
        "-i", "host=box", "-i", f"dir={remote_dir}",
    )  # fmt: skip
    assert ran.returncode == 0, ran.stdout + ran.stderr

    rolled = runbook("rollback", "--yes", run_id_of(ran.stdout), "--inventory", inventory)

    assert rolled.returncode == 0, rolled.stdout + rolled.stderr
    assert lines(remote_dir / "undone") == ["boom", "two", "one"]


def test_rollback_reads_the_inventory_from_the_environment_too(
    sshd: SshServer, remote_dir: Path
) -> None:
    inventory = _inventory(sshd)
    ran = runbook(
        "run", ssh_playbook("flow.yaml"), "--inventory", inventory,
        "-i", "host=box", "-i", f"dir={remote_dir}",
    )  # fmt: skip
    assert ran.returncode == 0, ran.stdout + ran.stderr

    rolled = runbook(
        "rollback", "--yes", run_id_of(ran.stdout), extra_env={"RUNBOOK_INVENTORY": inventory}
    )

    assert rolled.returncode == 0, rolled.stdout + rolled.stderr
    assert lines(remote_dir / "undone") == ["boom", "two", "one"]


def test_a_probed_plan_runs_its_read_only_ssh_step_on_the_inventory_given(
    sshd: SshServer, remote_dir: Path
) -> None:
    probed = runbook(
        "plan", "--probe", ssh_playbook("flow.yaml"), "--inventory", _inventory(sshd),
        "-i", "host=box", "-i", f"dir={remote_dir}",
    )  # fmt: skip

    assert probed.returncode == 0, probed.stdout + probed.stderr
    assert "whoami: succeeded" in probed.stdout
    assert f"box:{sshd.user}" in probed.stdout  # captured remotely, used by `two`'s plan
    assert not (remote_dir / "done").exists()  # nothing else ran


def test_inventory_from_env_and_beside_the_playbook(sshd: SshServer, remote_dir: Path) -> None:
    work = current_env().work
    inventory = _inventory(sshd)
    marker = remote_dir / "by-env"

    by_env = runbook(
        "run", ssh_playbook("one.yaml"), "-i", "host=box", "-i", f"marker={marker}",
        extra_env={"RUNBOOK_INVENTORY": inventory},
    )  # fmt: skip
    assert by_env.returncode == 0, by_env.stdout + by_env.stderr
    assert marker.exists()

    copy = work / "one.yaml"
    copy.write_text(Path(ssh_playbook("one.yaml")).read_text())
    (work / "inventory.yaml").write_text(Path(inventory).read_text())
    beside = runbook("run", str(copy), "-i", "host=box", "-i", f"marker={remote_dir}/beside")
    assert beside.returncode == 0, beside.stdout + beside.stderr
    assert (remote_dir / "beside").exists()


def test_a_missing_named_inventory_fails_the_step_with_a_hint(remote_dir: Path) -> None:
    missing = current_env().work / "nope.yaml"

    ran = runbook(
        "run", ssh_playbook("one.yaml"), "--inventory", str(missing),
        "-i", "host=box", "-i", f"marker={remote_dir}/m",
    )  # fmt: skip

    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert f"inventory: inventory file {missing} not found" in ran.stdout
    assert "RUNBOOK_INVENTORY" in ran.stdout


def test_a_bad_inventory_fails_the_step_at_its_file_and_line(remote_dir: Path) -> None:
    inventory = current_env().work / "inventory.yaml"
    inventory.write_text("hosts:\n  box: {address: 127.0.0.1, port: ssh}\n")

    ran = runbook(
        "run", ssh_playbook("one.yaml"), "--inventory", str(inventory),
        "-i", "host=box", "-i", f"marker={remote_dir}/m",
    )  # fmt: skip

    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert f"inventory: {inventory}:2:35: port must be an integer 1-65535" in ran.stdout
    assert not (remote_dir / "m").exists()


def test_plan_shows_the_remote_command_without_connecting(sshd: SshServer) -> None:
    before = sshd.logins(), sshd.log_text().count("Connection from")

    planned = runbook(
        "plan", ssh_playbook("flow.yaml"), "--inventory", _inventory(sshd),
        "-i", "host=box", "-i", "dir=/nowhere",
    )  # fmt: skip

    assert planned.returncode == 0, planned.stdout + planned.stderr
    shown = 'ssh box: RUNBOOK_V1=/nowhere\n           echo one >> "${RUNBOOK_V1}"/done'
    assert shown in planned.stdout
    assert (sshd.logins(), sshd.log_text().count("Connection from")) == before


def test_a_secret_reaches_the_remote_command_by_env_only_and_is_redacted(
    sshd: SshServer, remote_dir: Path
) -> None:
    canary = f"Canary-{uuid.uuid4().hex}"
    env = current_env()

    ran = runbook(
        "run", ssh_playbook("secret.yaml"), "--inventory", _inventory(sshd),
        "-i", f"dir={remote_dir}", extra_env={"CANARY_TOKEN": canary},
    )  # fmt: skip

    assert ran.returncode == 1, ran.stdout + ran.stderr  # `fails` exits 3
    assert (remote_dir / "child-saw").read_text() == canary  # it reached the command
    processes = (remote_dir / "ps").read_text()
    assert "read -r n" in processes  # the list is real: it shows the bootstrap
    assert canary not in processes  # on no command line, client or server side
    assert "stdout «redacted:token»" in ran.stdout
    assert canary not in ran.stdout + ran.stderr
    assert canary.encode() not in ledger_bytes(env)
    run_id = run_id_of(ran.stdout)
    assert canary not in runbook("show", run_id, "--output", "json").stdout
    assert "failing with «redacted:token»" in str(_results(run_id)["fails"]["output"])


def test_a_secret_in_an_argv_list_is_refused_before_step_1(tmp_path: Path) -> None:
    playbook = tmp_path / "argv-secret.yaml"
    playbook.write_text(
        Path(ssh_playbook("secret.yaml"))
        .read_text()
        .replace(
            "run: 'echo \"failing with $TOKEN\" >&2; exit 3'",
            'run: ["echo", "{{ secrets.token }}"]',
        )
    )

    ran = runbook("run", str(playbook), "-i", "dir=/tmp", extra_env={"CANARY_TOKEN": "s3cr3t-x"})

    assert ran.returncode == 2, ran.stdout + ran.stderr
    assert "steps[1].ssh.run[1]: secret 'token'" in ran.stderr  # file:line, before step 1
    assert "s3cr3t-x" not in ran.stdout + ran.stderr


def test_per_step_cost_over_the_reused_transport_is_small(sshd: SshServer, tmp_path: Path) -> None:
    """20 remote steps in one run: the connection is paid once (not a benchmark: a bound)."""
    steps = "".join(
        f'  - {{id: s{i}, readonly: true, ssh: {{host: box, run: ["true"]}}}}\n' for i in range(20)
    )
    playbook = tmp_path / "many.yaml"
    playbook.write_text(
        "apiVersion: runbook/v1\nkind: Playbook\n"
        "metadata: {name: ssh-many, version: 1.0.0, maturity: 2, owner: tests}\nsteps:\n" + steps
    )
    logins = sshd.logins()
    began = time.monotonic()

    ran = runbook("run", str(playbook), "--inventory", _inventory(sshd))

    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert sshd.logins() - logins == 1
    durations = [float(str(r["duration"])) for r in _results(run_id_of(ran.stdout)).values()]
    assert sorted(durations)[len(durations) // 2] < 0.5, durations  # median per step
    assert time.monotonic() - began < 30
