"""Whole runs (`runbook run` / `plan` / `validate`) with minikube steps against the fake
`minikube`: retries, rollback through captured undo, deadlines, and the rule that a
delete needs a backup taken earlier in the same run — with tests that try to break it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from localstack_fixtures import LocalStack
from localstack_helpers import write_playbook
from sli_helpers import events, run_cli, run_id_of

START_FAILS = (
    "❌  Exiting due to GUEST_PROVISION: error provisioning guest: Failed to start host: "
    "creating host: create host timed out in 360.000000 seconds\n"
)


def _run(path: Path, *args: str) -> tuple[int, str, list[dict[str, Any]]]:
    done = run_cli("run", str(path), "--yes", *args)
    output = done.stdout + done.stderr
    return done.returncode, output, events(run_id_of(done.stdout))


def _results(run_events: list[dict[str, Any]], kind: str = "step_result") -> dict[str, Any]:
    return {e["step_id"]: e["data"] for e in run_events if e["kind"] == kind}


def test_start_fails_twice_then_works_with_retry(fake_minikube: LocalStack, tmp_path: Path) -> None:
    fake_minikube.script("minikube", ["start"], rc=80, stderr=START_FAILS, times=2)
    path = write_playbook(
        tmp_path,
        """\
  - id: start
    minikube: {action: start, profile: dev, memory: 4g, cpus: 2}
    retry: {attempts: 3, backoff: 100ms, max_backoff: 200ms, jitter: false}
    timeout: 30s
""",
    )
    code, output, run_events = _run(path)
    assert code == 0, output
    starts = [argv for argv in fake_minikube.calls("minikube") if "start" in argv]
    assert starts == [["-p", "dev", "start", "--memory=4096mb", "--cpus=2"]] * 3
    retries = [e["data"] for e in run_events if e["kind"] == "step_retry"]
    assert [r["attempt"] for r in retries] == [1, 2]
    assert all("exited 80" in r["message"] and "GUEST_PROVISION" in r["message"] for r in retries)
    assert _results(run_events)["start"]["attempts"] == 3
    assert fake_minikube.state()["minikube"]["profiles"]["dev"]["status"] == "Running"


def test_a_failure_later_rolls_back_a_stop_with_the_captured_configuration(
    fake_minikube: LocalStack, tmp_path: Path
) -> None:
    fake_minikube.profile("dev", memory_mib=8192, cpus=4, kubernetes_version="v1.30.0")
    fake_minikube.script("minikube", ["start"], rc=80, stderr=START_FAILS, times=3)
    path = write_playbook(
        tmp_path,
        """\
  - id: stop_dev
    minikube: {action: stop, profile: dev}
    timeout: 30s
  - id: start_other
    minikube: {action: start, profile: other}
    retry: {attempts: 3, backoff: 100ms, max_backoff: 100ms, jitter: false}
    timeout: 30s
""",
    )
    code, output, run_events = _run(path)
    assert code == 1, output
    assert _results(run_events)["start_other"]["status"] == "failed"
    assert _results(run_events, "undo_result")["stop_dev"]["status"] == "succeeded"
    assert fake_minikube.calls("minikube")[-1] == [
        "-p",
        "dev",
        "start",
        "--driver=docker",
        "--memory=8192mb",
        "--cpus=4",
        "--kubernetes-version=v1.30.0",
    ]
    assert fake_minikube.state()["minikube"]["profiles"]["dev"]["status"] == "Running"


def test_a_hung_start_times_out_and_the_run_rolls_back(
    fake_minikube: LocalStack, tmp_path: Path
) -> None:
    fake_minikube.profile("dev")
    fake_minikube.script("minikube", ["start"], sleep=60, rc=0, times=1)
    path = write_playbook(
        tmp_path,
        """\
  - id: addon
    minikube: {action: addons, profile: dev, addon: metrics-server, enable: true}
    timeout: 20s
  - id: start
    minikube: {action: start, profile: dev}
    timeout: 2s
""",
    )
    code, output, run_events = _run(path)
    assert code == 1, output
    start = _results(run_events)["start"]
    assert start["status"] == "timed_out" and "process group was killed" in start["message"]
    assert fake_minikube.calls("minikube")[-1] == [
        "-p",
        "dev",
        "addons",
        "disable",
        "metrics-server",
    ]


BACKUP = """\
  - id: backup
    shell: {{run: [sh, -c, "echo objects > {dir}/backup.yaml"]}}
    irreversible: writes a backup file and nothing else
    timeout: 10s
{when}"""
DELETE = """\
  - id: delete
    minikube: {{action: delete, profile: dev, backup_step: {backup}}}
    irreversible: deletes the cluster; the backup restores it
    timeout: 30s
"""


def test_delete_runs_after_a_backup_of_the_same_run(
    fake_minikube: LocalStack, tmp_path: Path
) -> None:
    fake_minikube.profile("dev")
    steps = BACKUP.format(dir=tmp_path, when="") + DELETE.format(backup="backup")
    code, output, run_events = _run(write_playbook(tmp_path, steps))
    assert code == 0, output
    assert ["-p", "dev", "delete"] in fake_minikube.calls("minikube")
    assert "backup taken by step 'backup'" in _results(run_events)["delete"]["message"]
    assert "dev" not in fake_minikube.state()["minikube"]["profiles"]


def test_delete_is_refused_when_the_backup_step_was_skipped(
    fake_minikube: LocalStack, tmp_path: Path
) -> None:
    fake_minikube.profile("dev")
    skipped = BACKUP.format(dir=tmp_path, when="    when: run.mode == 'never'\n")
    code, output, run_events = _run(
        write_playbook(tmp_path, skipped + DELETE.format(backup="backup"))
    )
    assert code == 1, output
    message = _results(run_events)["delete"]["message"]
    assert message.startswith("refused:") and "ended skipped, not succeeded" in message
    assert ["-p", "dev", "delete"] not in fake_minikube.calls("minikube")
    assert "dev" in fake_minikube.state()["minikube"]["profiles"]


def test_delete_is_refused_when_the_backup_comes_later_or_does_not_exist(
    fake_minikube: LocalStack, tmp_path: Path
) -> None:
    fake_minikube.profile("dev")
    later = DELETE.format(backup="backup") + BACKUP.format(dir=tmp_path, when="")
    for version, steps in (("1.0.0", later), ("1.0.1", DELETE.format(backup="no-such-step"))):
        code, output, run_events = _run(write_playbook(tmp_path, steps, version=version))
        assert code == 1, output
        assert "refused:" in _results(run_events)["delete"]["message"]
    assert not (tmp_path / "backup.yaml").exists()
    assert ["-p", "dev", "delete"] not in fake_minikube.calls("minikube")


def test_delete_is_refused_when_the_backup_step_failed_and_was_retried_away(
    fake_minikube: LocalStack, tmp_path: Path
) -> None:
    """A failed backup stops the run before the delete; the cluster is untouched."""
    fake_minikube.profile("dev")
    failing = "  - id: backup\n    shell: {run: [sh, -c, 'exit 3']}\n    irreversible: test\n"
    code, output, run_events = _run(
        write_playbook(tmp_path, failing + DELETE.format(backup="backup"))
    )
    assert code == 1, output
    assert "delete" not in _results(run_events)
    assert fake_minikube.calls("minikube") == []


def test_forced_delete_records_its_reason(fake_minikube: LocalStack, tmp_path: Path) -> None:
    fake_minikube.profile("dev", machine_missing=True)
    steps = """\
  - id: delete
    minikube: {action: delete, profile: dev, force: true, reason: the VM is already gone}
    irreversible: nothing is left to lose
    timeout: 30s
"""
    code, output, run_events = _run(write_playbook(tmp_path, steps))
    assert code == 0, output
    message = _results(run_events)["delete"]["message"]
    assert "(forced without a backup); reason: the VM is already gone" in message


def test_validate_rejects_a_delete_without_backup_or_forced_reason(tmp_path: Path) -> None:
    for body, expected in (
        ("{action: delete, profile: dev}", "needs `backup_step:` or `force: true`"),
        ("{action: delete, profile: dev, force: true}", "needs a `reason:`"),
        ("{action: delete, profile: dev, backup_step: 'Bad Id'}", "not of the expected form"),
    ):
        steps = f"  - id: delete\n    minikube: {body}\n    irreversible: test\n"
        done = run_cli("validate", str(write_playbook(tmp_path, steps)))
        assert done.returncode == 1, done.stdout
        assert expected in done.stdout


def test_plan_calls_nothing_and_plan_probe_runs_only_read_only_steps(
    fake_minikube: LocalStack, tmp_path: Path
) -> None:
    fake_minikube.profile("dev")
    steps = (
        BACKUP.format(dir=tmp_path, when="")
        + DELETE.format(backup="backup")
        + """\
  - id: status
    minikube: {action: status, profile: dev, capture: st}
    timeout: 10s
"""
    )
    path = write_playbook(tmp_path, steps)
    planned = run_cli("plan", str(path))
    assert planned.returncode == 0, planned.stderr
    assert (
        "minikube -p dev delete" in planned.stdout
        and "runs only if step 'backup'" in planned.stdout
    )
    assert fake_minikube.calls("minikube", phase="start") == []
    probed = run_cli("plan", "--probe", str(path))
    assert probed.returncode == 0, probed.stderr
    assert fake_minikube.calls("minikube") == [["-p", "dev", "status", "-o", "json"]]
    assert not (tmp_path / "backup.yaml").exists()
