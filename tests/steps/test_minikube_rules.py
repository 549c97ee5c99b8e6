"""The rules of the `minikube` step type that protect a cluster, with tests that try to
break them: `start` never shrinks a profile's memory or CPUs (whatever the units or
templates), and bodies the step type rejects before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from localstack_fixtures import LocalStack
from localstack_helpers import apply_step

from engine.core.results import SpecError, Status


@pytest.mark.parametrize(
    ("body", "inputs", "why"),
    [
        ({"memory": "4g"}, {}, "memory would shrink from 8 GiB to 4 GiB"),
        ({"memory": 4096}, {}, "memory would shrink from 8 GiB to 4 GiB"),
        ({"memory": "8191MiB"}, {}, "memory would shrink"),
        ({"memory": "{{ inputs.mem }}"}, {"mem": "7.5g"}, "memory would shrink"),
        ({"cpus": 2}, {}, "CPUs would shrink from 4 to 2"),
        ({"cpus": "{{ inputs.cpus }}"}, {"cpus": "3"}, "CPUs would shrink from 4 to 3"),
        ({"memory": "16g", "cpus": 1}, {}, "CPUs would shrink from 4 to 1"),
    ],
)
def test_start_never_shrinks_a_profile(
    fake_minikube: LocalStack, body: dict[str, object], inputs: dict[str, str], why: str
) -> None:
    fake_minikube.profile("dev", memory_mib=8192, cpus=4, status="Stopped")
    result = apply_step("minikube", {"action": "start", "profile": "dev", **body}, inputs=inputs)
    assert result.status is Status.FAILED
    assert result.message.startswith("refused:") and why in result.message
    assert "allow_shrink: true" in result.message
    assert fake_minikube.calls("minikube") == [["profile", "list", "-o", "json"]]  # no start
    assert fake_minikube.state()["minikube"]["profiles"]["dev"]["status"] == "Stopped"


def test_start_with_unknown_current_memory_is_refused(fake_minikube: LocalStack) -> None:
    fake_minikube.profile("dev", hide_memory=True)
    result = apply_step("minikube", {"action": "start", "profile": "dev", "memory": "64g"})
    assert result.status is Status.FAILED and "current memory is unknown" in result.message
    assert not any("start" in argv for argv in fake_minikube.calls("minikube"))


def test_start_with_equal_or_more_resources_runs(fake_minikube: LocalStack) -> None:
    fake_minikube.profile("dev", memory_mib=8192, cpus=4, status="Stopped")
    result = apply_step(
        "minikube", {"action": "start", "profile": "dev", "memory": "8GB", "cpus": 4}
    )
    assert result.ok, result.message
    assert result.captured["was_running"] is False and result.captured["existed"] is True
    assert result.captured["before"]["memory_mib"] == 8192


def test_allow_shrink_lets_it_through_and_says_minikube_kept_the_memory(
    fake_minikube: LocalStack,
) -> None:
    fake_minikube.profile("dev", memory_mib=8192, cpus=4)
    body = {"action": "start", "profile": "dev", "memory": "2g", "allow_shrink": True}
    result = apply_step("minikube", body)
    assert result.ok, result.message
    assert "kept the existing profile's memory" in result.message
    assert ["-p", "dev", "start", "--memory=2048mb"] in fake_minikube.calls("minikube")


def test_start_is_not_called_when_the_profile_cannot_be_read(fake_minikube: LocalStack) -> None:
    fake_minikube.script("minikube", ["profile", "list"], rc=1, stderr="permission denied\n")
    result = apply_step("minikube", {"action": "start", "profile": "dev", "memory": "8g"})
    assert result.status is Status.FAILED and "permission denied" in result.message
    assert fake_minikube.calls("minikube") == [["profile", "list", "-o", "json"]]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"action": "addons", "addon": "ingress"}, "needs `enable:`"),
        ({"action": "ssh"}, "needs `command:`"),
        ({"action": "stop", "memory": "8g"}, "`memory` is only used by `start`"),
        ({"action": "start", "memory": "lots"}, "is not a size"),
        ({"action": "start", "memory": "1.5"}, "fraction but no unit"),
        ({"action": "start", "cpus": "two"}, "not a whole number"),
        ({"action": "delete"}, "needs `backup_step:` or `force: true`"),
        ({"action": "delete", "force": True}, "needs a `reason:`"),
        ({"action": "delete", "force": True, "reason": "  "}, "needs a `reason:`"),
    ],
)
def test_bodies_the_step_type_rejects(body: dict[str, object], message: str) -> None:
    from engine.core.findings import Location
    from engine.steps.minikube import parse

    with pytest.raises(SpecError, match=message.replace("`", ".").replace("(", ".")):
        parse(body, Location("t.yaml"))


@pytest.mark.parametrize("profile", ["-rf", "--all", "dev profile", ""])
def test_a_profile_that_is_not_a_name_is_refused_before_any_call(
    fake_minikube: LocalStack, profile: str, tmp_path: Path
) -> None:
    result = apply_step(
        "minikube",
        {"action": "delete", "profile": "{{ inputs.p }}", "force": True, "reason": "test"},
        inputs={"p": profile},
    )
    assert result.status is Status.FAILED and "not a name minikube accepts" in result.message
    assert fake_minikube.calls("minikube", phase="start") == []
