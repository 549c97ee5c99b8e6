"""The `minikube` step type against a fake `minikube` on PATH (tests/fakes/fake_minikube.py):
what each action runs, how status is decoded, deadlines, and what the fake recorded."""

from __future__ import annotations

import shlex
import time

from localstack_fixtures import LocalStack
from localstack_helpers import apply_step, plan_step, process_gone, undo_step

from engine.core.results import Status


def test_status_of_a_running_profile_is_decoded(fake_minikube: LocalStack) -> None:
    fake_minikube.profile("dev")
    result = apply_step("minikube", {"action": "status", "profile": "dev", "capture": "st"})
    assert result.status is Status.SUCCEEDED
    assert result.value["healthy"] and result.value["exit_code"] == 0
    assert result.value["apiserver"] == "Running"
    assert fake_minikube.calls("minikube") == [["-p", "dev", "status", "-o", "json"]]


def test_status_exit_bits_name_what_is_down(fake_minikube: LocalStack) -> None:
    fake_minikube.profile("dev", apiserver="Stopped")
    value = apply_step("minikube", {"action": "status", "profile": "dev"}).value
    assert value["exit_code"] == 2
    assert (value["host_ok"], value["cluster_ok"], value["kubeconfig_ok"]) == (True, False, True)
    assert value["problems"] == ["cluster not running (kubelet Running, apiserver Stopped)"]


def test_status_of_a_stopped_and_of_a_missing_profile(fake_minikube: LocalStack) -> None:
    fake_minikube.profile("dev", status="Stopped")
    stopped = apply_step("minikube", {"action": "status", "profile": "dev"})
    assert stopped.ok and stopped.value["exit_code"] == 7
    assert not (stopped.value["host_ok"] or stopped.value["cluster_ok"])
    missing = apply_step("minikube", {"action": "status", "profile": "nope"})
    assert missing.ok and missing.value["exists"] is False and missing.value["exit_code"] == 85
    assert "does not exist" in missing.message


def test_status_with_an_unexpected_exit_names_command_code_and_stderr(
    fake_minikube: LocalStack,
) -> None:
    fake_minikube.script("minikube", ["status"], rc=1, stderr="E1123 boom: config corrupt\n")
    result = apply_step("minikube", {"action": "status", "profile": "dev"})
    assert result.status is Status.FAILED and result.exit_code == 1
    assert "`minikube -p dev status -o json` exited 1" in result.message
    assert "boom: config corrupt" in result.message


def test_start_runs_the_exact_argv_and_captures_the_profile_before(
    fake_minikube: LocalStack,
) -> None:
    body = {
        "action": "start",
        "profile": "dev",
        "driver": "docker",
        "memory": "8g",
        "cpus": 4,
        "kubernetes_version": "v1.31.0",
    }
    result = apply_step("minikube", body)
    assert result.ok, result.message
    assert fake_minikube.calls("minikube") == [
        ["profile", "list", "-o", "json"],
        [
            "-p",
            "dev",
            "start",
            "--driver=docker",
            "--memory=8192mb",
            "--cpus=4",
            "--kubernetes-version=v1.31.0",
        ],
    ]
    assert result.captured == {
        "profile": "dev",
        "existed": False,
        "was_running": False,
        "before": None,
    }
    assert fake_minikube.state()["minikube"]["profiles"]["dev"]["memory_mib"] == 8192


def test_undo_of_start_stops_only_what_it_started(fake_minikube: LocalStack) -> None:
    body = {"action": "start", "profile": "dev"}
    fake_minikube.profile("dev", status="Stopped")
    started = apply_step("minikube", body)
    assert undo_step("minikube", body, dict(started.captured)).ok
    assert fake_minikube.calls("minikube")[-1] == ["-p", "dev", "stop"]
    fake_minikube.profile("up")
    again = apply_step("minikube", {"action": "start", "profile": "up"})
    count = len(fake_minikube.calls("minikube"))
    undone = undo_step("minikube", {"action": "start", "profile": "up"}, dict(again.captured))
    assert undone.ok and "already running" in undone.message
    assert len(fake_minikube.calls("minikube")) == count  # nothing called


def test_undo_of_stop_starts_with_the_captured_configuration(fake_minikube: LocalStack) -> None:
    fake_minikube.profile("dev", memory_mib=6144, cpus=3, kubernetes_version="v1.30.2")
    body = {"action": "stop", "profile": "dev"}
    stopped = apply_step("minikube", body)
    assert (
        stopped.ok and fake_minikube.state()["minikube"]["profiles"]["dev"]["status"] == "Stopped"
    )
    assert undo_step("minikube", body, dict(stopped.captured)).ok
    assert fake_minikube.calls("minikube")[-1] == [
        "-p",
        "dev",
        "start",
        "--driver=docker",
        "--memory=6144mb",
        "--cpus=3",
        "--kubernetes-version=v1.30.2",
    ]
    assert fake_minikube.state()["minikube"]["profiles"]["dev"]["status"] == "Running"


def test_stop_of_a_missing_profile_is_refused(fake_minikube: LocalStack) -> None:
    result = apply_step("minikube", {"action": "stop", "profile": "ghost"})
    assert result.status is Status.FAILED and "does not exist" in result.message
    assert fake_minikube.calls("minikube") == [["profile", "list", "-o", "json"]]


def test_addons_enable_and_disable_undo_each_other(fake_minikube: LocalStack) -> None:
    fake_minikube.profile("dev")
    enable = {"action": "addons", "profile": "dev", "addon": "ingress", "enable": True}
    done = apply_step("minikube", enable)
    assert done.ok and done.captured["was_enabled"] is False
    assert undo_step("minikube", enable, dict(done.captured)).ok
    assert fake_minikube.calls("minikube")[-1] == ["-p", "dev", "addons", "disable", "ingress"]
    disable = {
        "action": "addons",
        "profile": "dev",
        "addon": "storage-provisioner",
        "enable": False,
    }
    off = apply_step("minikube", disable)
    assert undo_step("minikube", disable, dict(off.captured)).ok
    assert fake_minikube.calls("minikube")[-1] == [
        "-p",
        "dev",
        "addons",
        "enable",
        "storage-provisioner",
    ]
    assert fake_minikube.state()["minikube"]["profiles"]["dev"]["addons"]["ingress"] is False


def test_addon_already_in_state_changes_nothing_and_undoes_nothing(
    fake_minikube: LocalStack,
) -> None:
    fake_minikube.profile("dev")
    body = {"action": "addons", "profile": "dev", "addon": "storage-provisioner", "enable": True}
    result = apply_step("minikube", body)
    assert result.ok and result.changed is False
    assert undo_step("minikube", body, dict(result.captured)).ok
    assert all(
        "enable" not in argv and "disable" not in argv for argv in fake_minikube.calls("minikube")
    )


def test_unknown_addon_fails_without_a_change(fake_minikube: LocalStack) -> None:
    fake_minikube.profile("dev")
    result = apply_step(
        "minikube", {"action": "addons", "profile": "dev", "addon": "nope", "enable": True}
    )
    assert result.status is Status.FAILED and "no addon 'nope'" in result.message


def test_ssh_quotes_interpolated_values_and_captures(fake_minikube: LocalStack) -> None:
    fake_minikube.profile("dev")
    body = {"action": "ssh", "profile": "dev", "command": "echo {{ inputs.word }}", "capture": "o"}
    result = apply_step("minikube", body, inputs={"word": "x; touch /tmp/pwned"})
    assert result.ok
    # The node's shell gets the value in the environment, never in the script.
    script = ["env", "RUNBOOK_V1=x; touch /tmp/pwned", "/bin/sh", "-c", 'echo "${RUNBOOK_V1}"']
    assert fake_minikube.calls("minikube") == [["-p", "dev", "ssh", "--", shlex.join(script)]]
    listed = {
        "action": "ssh",
        "profile": "dev",
        "command": ["sudo", "crictl", "ps", "--name", "kube apiserver"],
    }
    apply_step("minikube", listed)
    assert fake_minikube.calls("minikube")[-1][-1] == "sudo crictl ps --name 'kube apiserver'"


def test_ssh_on_a_stopped_node_fails_with_minikubes_message(fake_minikube: LocalStack) -> None:
    fake_minikube.profile("dev", status="Stopped")
    result = apply_step("minikube", {"action": "ssh", "profile": "dev", "command": "uptime"})
    assert result.status is Status.FAILED and result.exit_code == 80
    assert "GUEST_STATUS" in result.message


def test_logs_keep_a_tail_and_update_context_runs(fake_minikube: LocalStack) -> None:
    fake_minikube.profile("dev", kubeconfig="Misconfigured")
    logs = apply_step("minikube", {"action": "logs", "profile": "dev", "tail_lines": 5})
    assert logs.ok and len(logs.value.splitlines()) == 5
    assert logs.value.splitlines()[-1].endswith("line 500")
    assert apply_step("minikube", {"action": "update_context", "profile": "dev"}).ok
    assert fake_minikube.calls("minikube") == [
        ["-p", "dev", "logs", "--length=5"],
        ["-p", "dev", "update-context"],
    ]
    assert fake_minikube.state()["minikube"]["profiles"]["dev"]["kubeconfig"] == "Configured"


def test_restart_stops_then_starts_with_the_profiles_own_configuration(
    fake_minikube: LocalStack,
) -> None:
    fake_minikube.profile("dev", apiserver="Stopped")
    assert apply_step("minikube", {"action": "restart", "profile": "dev"}).ok
    assert fake_minikube.calls("minikube") == [["-p", "dev", "stop"], ["-p", "dev", "start"]]
    assert fake_minikube.state()["minikube"]["profiles"]["dev"]["apiserver"] == "Running"


def test_a_hung_minikube_is_killed_at_the_deadline(fake_minikube: LocalStack) -> None:
    fake_minikube.profile("dev")
    fake_minikube.script("minikube", ["stop"], sleep=60, rc=0)
    started = time.monotonic()
    result = apply_step("minikube", {"action": "restart", "profile": "dev"}, timeout=1.5)
    assert time.monotonic() - started < 5
    assert result.status is Status.TIMED_OUT
    assert "`minikube -p dev stop` did not finish" in result.message
    assert "process group was killed" in result.message
    hung = [r for r in fake_minikube.records("minikube") if r["phase"] == "start"][-1]
    assert hung["argv"] == ["-p", "dev", "stop"]
    assert process_gone(hung["pid"])
    assert ["-p", "dev", "start"] not in fake_minikube.calls("minikube", phase="start")


def test_a_spent_deadline_starts_no_second_command(fake_minikube: LocalStack) -> None:
    fake_minikube.script("minikube", ["profile", "list"], sleep=3, rc=0, stdout="{}")
    result = apply_step("minikube", {"action": "start", "profile": "dev"}, timeout=1)
    assert result.status is Status.TIMED_OUT
    assert fake_minikube.calls("minikube", phase="start") == [["profile", "list", "-o", "json"]]


def test_plan_shows_the_exact_argv_and_calls_nothing(fake_minikube: LocalStack) -> None:
    planned = plan_step(
        "minikube",
        {"action": "start", "profile": "dev", "memory": "{{ inputs.m }}", "cpus": 2},
        inputs={"m": "6g"},
    )
    assert planned.command == "minikube -p dev start --memory=6144mb --cpus=2"
    assert "shrink" in planned.note and not planned.readonly
    restart = plan_step("minikube", {"action": "restart", "profile": "dev"})
    assert restart.command == "minikube -p dev stop\nminikube -p dev start"
    status = plan_step("minikube", {"action": "status"})
    assert status.readonly and status.command == "minikube -p minikube status -o json"
    assert fake_minikube.calls("minikube", phase="start") == []


def test_a_minikube_that_is_not_installed_fails_the_step_and_names_it(
    fake_minikube: LocalStack,
) -> None:
    (fake_minikube.bin / "minikube").unlink()  # not on PATH any more
    result = apply_step("minikube", {"action": "status", "profile": "dev"})
    assert result.status is Status.FAILED and result.exit_code is None
    assert result.message == "minikube status: cannot start `minikube`: no such program on PATH"
