"""The `kubectl` step type against a REAL kube-apiserver, etcd, controller-manager and
scheduler (tests/kube_fixtures.py), through the CLI: undo by the engine's automatic
rollback and by `runbook rollback` of an interrupted run, server-side dry-run, and
the context guards. Each test works in a namespace of its own."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import pytest
from kube_fixtures import CountingRelay, KubeCluster, available, create_web
from run_fixtures import (
    current_env,
    events,
    kill_group_after_test,
    run_env,  # noqa: F401  (autouse fixture)
    run_id_of,
    runbook,
    runs_json,
    start_engine,
    wait_for,
)
from tree import TESTS

pytestmark = pytest.mark.integration
BOOKS = TESTS / "playbooks" / "kube"


def book(name: str) -> str:
    return str(BOOKS / name)


@pytest.fixture
def ns(kube_ns: str) -> str:
    return kube_ns


def web_path(ns: str, name: str = "web") -> str:
    return f"/apis/apps/v1/namespaces/{ns}/deployments/{name}"


def replicas(cluster: KubeCluster, ns: str) -> int:
    return int(cluster.api("GET", web_path(ns))["spec"]["replicas"])


def run(cluster: KubeCluster, name: str, *args: str) -> Any:
    inputs = [part for arg in args for part in ("-i", arg)]
    return runbook("run", book(name), *inputs, extra_env=cluster.env, timeout=120)


def test_scale_then_a_failing_step_restores_the_replicas(
    kube_cluster: KubeCluster, ns: str
) -> None:
    create_web(kube_cluster, ns)

    ran = run(kube_cluster, "scale-then-fail.yaml", f"namespace={ns}")

    assert ran.returncode == 1, ran.stdout + ran.stderr
    run_id = run_id_of(ran.stdout)
    scaled = events(run_id, "step_result")[0]["data"]
    assert scaled["message"] == f"scaled Deployment {ns}/web from 2 to 0"
    assert scaled["captured"]["replicas"] == 2
    assert scaled["captured"]["context"] == "kcp"
    assert scaled["captured"]["cluster_uid"] == kube_cluster.uid()
    undone = events(run_id, "undo_result")
    assert [(e["step_id"], e["data"]["status"]) for e in undone] == [("scale_down", "succeeded")]
    assert replicas(kube_cluster, ns) == 2
    kube_cluster.wait("web available again", lambda: available(kube_cluster, ns) == 2)


def test_rollback_of_an_interrupted_run_restores_the_scale(
    kube_cluster: KubeCluster, ns: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    create_web(kube_cluster, ns)
    env = current_env()
    monkeypatch.setenv("KUBECONFIG", str(kube_cluster.kubeconfig))
    engine = start_engine(
        "run", book("scale-then-sleep.yaml"), "-i", f"namespace={ns}", "-i", f"dir={env.work}"
    )
    started = env.work / "started"
    wait_for(lambda: started.exists() and started.read_text().strip() != "", 60, "step 2")
    kill_group_after_test(int(started.read_text()))
    engine.send_signal(signal.SIGKILL)
    engine.communicate(timeout=10)
    assert replicas(kube_cluster, ns) == 0
    run_id = str(runs_json()[0]["run_id"])
    assert runbook("recover").returncode == 0

    rolled = runbook("rollback", "--yes", run_id)

    assert rolled.returncode == 0, rolled.stdout + rolled.stderr
    assert replicas(kube_cluster, ns) == 2
    again = runbook("rollback", "--yes", run_id)
    assert again.returncode == 0, again.stdout + again.stderr


def test_patch_and_its_undo_restore_the_exact_previous_spec(
    kube_cluster: KubeCluster, ns: str
) -> None:
    create_web(kube_cluster, ns)
    before = kube_cluster.api("GET", web_path(ns))

    ran = run(kube_cluster, "patch-then-fail.yaml", f"namespace={ns}")

    assert ran.returncode == 1, ran.stdout + ran.stderr
    messages = [e["data"]["message"] for e in events(run_id_of(ran.stdout), "step_result")]
    assert messages[:2] == [f"patched Deployment {ns}/web"] * 2
    after = kube_cluster.api("GET", web_path(ns))
    assert after["spec"] == before["spec"]
    assert after["metadata"]["labels"] == before["metadata"]["labels"]
    assert after["metadata"]["generation"] > before["metadata"]["generation"]


def test_apply_creates_and_updates_and_the_undo_deletes_and_restores(
    kube_cluster: KubeCluster, ns: str
) -> None:
    configmaps = f"/api/v1/namespaces/{ns}/configmaps"
    settings = {"metadata": {"name": "settings"}, "data": {"mode": "normal", "keep": "me"}}
    kube_cluster.api("POST", configmaps, settings)

    kept = run(kube_cluster, "apply-then-fail.yaml", f"namespace={ns}", "fail=false")

    assert kept.returncode == 0, kept.stdout + kept.stderr
    assert kube_cluster.api("GET", f"{configmaps}/flags")["data"] == {"maintenance": "on"}
    assert kube_cluster.api("GET", f"{configmaps}/settings")["data"]["mode"] == "degraded"

    rolled = runbook("rollback", "--yes", run_id_of(kept.stdout), extra_env=kube_cluster.env)

    assert rolled.returncode == 0, rolled.stdout + rolled.stderr
    names = [c["metadata"]["name"] for c in kube_cluster.api("GET", configmaps)["items"]]
    assert "flags" not in names
    assert kube_cluster.api("GET", f"{configmaps}/settings")["data"] == settings["data"]


def test_apply_create_then_a_failure_deletes_what_it_created(
    kube_cluster: KubeCluster, ns: str
) -> None:
    configmaps = f"/api/v1/namespaces/{ns}/configmaps"
    kube_cluster.api("POST", configmaps, {"metadata": {"name": "settings"}, "data": {"a": "1"}})

    ran = run(kube_cluster, "apply-then-fail.yaml", f"namespace={ns}")

    assert ran.returncode == 1, ran.stdout + ran.stderr
    names = [c["metadata"]["name"] for c in kube_cluster.api("GET", configmaps)["items"]]
    assert "flags" not in names
    assert kube_cluster.api("GET", f"{configmaps}/settings")["data"] == {"a": "1"}


def _plan(cluster: KubeCluster, ns: str, *args: str) -> dict[str, str]:
    inputs = [part for arg in (f"namespace={ns}", *args) for part in ("-i", arg)]
    planned = runbook(
        "plan", book("mutations.yaml"), *inputs, "--output", "json", extra_env=cluster.env
    )
    assert planned.returncode == 0, planned.stdout + planned.stderr
    steps = json.loads(planned.stdout)["steps"]
    return {s["id"]: f"{s['verdict']} | {s['note']}" for s in steps}


def test_server_side_dry_run_changes_nothing_and_knows_no_ops(
    kube_cluster: KubeCluster, ns: str
) -> None:
    create_web(kube_cluster, ns)
    before = kube_cluster.api("GET", web_path(ns))

    verdicts = _plan(kube_cluster, ns)

    assert verdicts["scale"].startswith("would change | 2 → 5 replicas (server-side dry-run)")
    assert verdicts["image"].startswith("no-op")  # the patch matches what runs
    assert verdicts["cordon"].startswith("would change")
    assert verdicts["create"].startswith("would change | would create ConfigMap")
    for step in ("label", "annotate", "restart"):
        assert verdicts[step].startswith("would change | server-side dry-run"), verdicts[step]
    assert verdicts["remove_pods"].startswith("no-op | nothing to delete")
    assert verdicts["check"].startswith("no-op")
    after = kube_cluster.api("GET", web_path(ns))
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert not kube_cluster.api("GET", "/api/v1/nodes/node-2")["spec"].get("unschedulable")
    names = [
        c["metadata"]["name"]
        for c in kube_cluster.api("GET", f"/api/v1/namespaces/{ns}/configmaps")["items"]
    ]
    assert "planned" not in names
    again = _plan(kube_cluster, ns, "replicas=2", "image=nginx:1.27")
    assert again["scale"].startswith("no-op | already at 2 replicas")
    assert again["image"].startswith("would change")


def test_a_missing_context_is_refused_before_any_api_call(tmp_path: Path) -> None:
    from fake_kube_api import FakeKubeApi

    api = FakeKubeApi().start()
    try:
        kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig", context="staging")
        ran = runbook("run", book("context.yaml"), "-i", "context=prod",
                      extra_env={"KUBECONFIG": str(kubeconfig)})  # fmt: skip
        assert api.requests == []
    finally:
        api.stop()
    assert ran.returncode == 5, ran.stdout + ran.stderr
    output = ran.stdout + ran.stderr
    assert "context 'prod' is not in the kubeconfig" in output
    assert "contexts: staging" in output
    assert events(run_id_of(ran.stdout), "step_intent") == []


def test_a_wrong_cluster_uid_is_refused_before_step_1(kube_cluster: KubeCluster, ns: str) -> None:
    create_web(kube_cluster, ns)
    wrong = "00000000-0000-0000-0000-000000000000"

    refused = run(kube_cluster, "context.yaml", "context=kcp", f"uid={wrong}", f"namespace={ns}")

    assert refused.returncode == 5, refused.stdout + refused.stderr
    assert f"not the pinned cluster_uid {wrong}" in refused.stdout + refused.stderr
    assert events(run_id_of(refused.stdout), "step_intent") == []
    assert replicas(kube_cluster, ns) == 2
    pinned = run(
        kube_cluster, "context.yaml", "context=kcp", f"uid={kube_cluster.uid()}", f"namespace={ns}"
    )
    assert pinned.returncode == 0, pinned.stdout + pinned.stderr
    assert replicas(kube_cluster, ns) == 0


def test_a_run_reads_its_kubernetes_probe_and_runs_its_steps_over_one_connection(
    kube_cluster: KubeCluster, ns: str, counting_relay: CountingRelay, tmp_path: Path
) -> None:
    create_web(kube_cluster, ns)
    kubeconfig = counting_relay.kubeconfig_through(kube_cluster, tmp_path / "kubeconfig")

    ran = runbook(
        "run", book("scale-up-sli.yaml"), "-i", f"namespace={ns}",
        extra_env={"KUBECONFIG": str(kubeconfig)}, timeout=120,
    )  # fmt: skip

    assert ran.returncode == 0, ran.stdout + ran.stderr
    samples = events(run_id_of(ran.stdout), "sli_sample")
    assert len(samples) >= 3  # the pre-check and two healthy in a row
    # one client for the context, shared by the scale step and every sample (each
    # sample opened a connection of its own before)
    assert counting_relay.connections == 1


def test_the_kubernetes_probe_judges_the_recovery_of_a_run(
    kube_cluster: KubeCluster, ns: str
) -> None:
    create_web(kube_cluster, ns)

    ran = run(kube_cluster, "scale-up-sli.yaml", f"namespace={ns}")

    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "outcome: recovered" in ran.stdout
    samples = [e["data"] for e in events(run_id_of(ran.stdout), "sli_sample")]
    assert samples[0]["phase"] == "pre-check" and samples[0]["verdict"] == "unhealthy"
    assert samples[-1]["verdict"] == "healthy" and samples[-1]["value"] == 3
