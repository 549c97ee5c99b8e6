"""Each `kubectl` action and its undo against the real control plane, called through
the step type as the runner calls it; the `kubernetes` SLI probe; drain with
PodDisruptionBudgets and DaemonSets."""

from __future__ import annotations

from typing import Any

import pytest
from kube_fixtures import KubeCluster, available, create_web, kubectl, step_context
from run_fixtures import events, run_env, run_id_of, runbook  # noqa: F401  (autouse fixture)
from tree import TESTS

from engine.core.resources import Resources
from engine.core.results import Status, StepResult
from engine.sli import kubernetes as probe
from engine.sli.judge import SliVerdict
from engine.steps import kubectl as step
from engine.templating.render import TemplateRenderer

pytestmark = pytest.mark.integration
BOOKS = TESTS / "playbooks" / "kube"
MERGE = "application/merge-patch+json"


def web(ns: str, name: str = "web") -> str:
    return f"/apis/apps/v1/namespaces/{ns}/deployments/{name}"


def act(cluster: KubeCluster, body: dict[str, Any], timeout: float = 60) -> StepResult:
    result = step.apply(kubectl(body), step_context(cluster.kubeconfig, timeout))
    return result


def undo(cluster: KubeCluster, body: dict[str, Any], done: StepResult) -> StepResult:
    return step.undo(kubectl(body), done.captured, step_context(cluster.kubeconfig))


def on(ns: str, action: str, **body: Any) -> dict[str, Any]:
    return {"action": action, "namespace": ns, "kind": "Deployment", "name": "web", **body}


def test_label_and_annotate_undo_to_the_previous_values(
    kube_cluster: KubeCluster, kube_ns: str
) -> None:
    create_web(kube_cluster, kube_ns)
    label = on(kube_ns, "label", labels={"tier": "gold", "app": "web"})
    annotate = on(kube_ns, "annotate", annotations={"runbook/ack": "yes"})

    labelled, annotated = act(kube_cluster, label), act(kube_cluster, annotate)

    assert labelled.ok and annotated.ok, labelled.message + annotated.message
    meta = kube_cluster.api("GET", web(kube_ns))["metadata"]
    assert meta["labels"]["tier"] == "gold" and meta["annotations"]["runbook/ack"] == "yes"
    assert labelled.captured["previous"] == {"tier": None, "app": "web"}
    assert undo(kube_cluster, annotate, annotated).ok
    assert undo(kube_cluster, label, labelled).ok
    meta = kube_cluster.api("GET", web(kube_ns))["metadata"]
    assert meta["labels"] == {"app": "web"}
    assert "runbook/ack" not in (meta.get("annotations") or {})
    again = act(kube_cluster, on(kube_ns, "label", labels={"app": "web"}))
    assert again.changed is False


def test_rollout_restart_then_undo_returns_to_the_captured_template(
    kube_cluster: KubeCluster, kube_ns: str
) -> None:
    create_web(kube_cluster, kube_ns)
    before = kube_cluster.api("GET", web(kube_ns))["spec"]["template"]

    restarted = act(kube_cluster, on(kube_ns, "rollout_restart"))

    assert restarted.ok, restarted.message
    template = kube_cluster.api("GET", web(kube_ns))["spec"]["template"]
    assert "kubectl.kubernetes.io/restartedAt" in template["metadata"]["annotations"]
    rolled = act(kube_cluster, on(kube_ns, "wait", condition="rolled_out", timeout="60s"))
    assert rolled.ok, rolled.message
    assert undo(kube_cluster, on(kube_ns, "rollout_restart"), restarted).ok
    assert kube_cluster.api("GET", web(kube_ns))["spec"]["template"] == before


def test_rollout_undo_goes_back_a_revision_and_its_undo_forward(
    kube_cluster: KubeCluster, kube_ns: str
) -> None:
    create_web(kube_cluster, kube_ns)
    image = {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:2"}]}}}}
    kube_cluster.api("PATCH", web(kube_ns), image, content_type=MERGE)
    kube_cluster.wait("revision 2", lambda: available(kube_cluster, kube_ns) == 2)

    back = act(kube_cluster, on(kube_ns, "rollout_undo", reason="bad deploy"))

    assert back.ok, back.message
    assert back.message.endswith("(bad deploy)")
    containers = kube_cluster.api("GET", web(kube_ns))["spec"]["template"]["spec"]["containers"]
    assert containers[0]["image"] == "nginx:1.25"
    assert undo(kube_cluster, on(kube_ns, "rollout_undo"), back).ok
    containers = kube_cluster.api("GET", web(kube_ns))["spec"]["template"]["spec"]["containers"]
    assert containers[0]["image"] == "nginx:2"


def test_get_wait_and_delete_by_selector(kube_cluster: KubeCluster, kube_ns: str) -> None:
    create_web(kube_cluster, kube_ns)

    got = act(kube_cluster, on(kube_ns, "get", fields=["spec.replicas", "status.readyReplicas"]))
    listed = act(kube_cluster, {"action": "get", "namespace": kube_ns, "kind": "Pod",
                                "selector": "app=web", "fields": ["status.phase"]})  # fmt: skip
    available_now = act(kube_cluster, on(kube_ns, "wait", condition="Available", timeout="5s"))
    deleted = act(kube_cluster, {"action": "delete", "namespace": kube_ns, "kind": "Deployment",
                                 "selector": "app=web"})  # fmt: skip
    gone = act(kube_cluster, on(kube_ns, "wait", condition="deleted", timeout="30s"))

    assert got.value == {"spec.replicas": 2, "status.readyReplicas": 2}
    assert listed.value == [{"status.phase": "Running"}] * 2
    assert available_now.ok and gone.ok, available_now.message + gone.message
    assert deleted.ok and "irreversible by nature" in deleted.message
    assert not kube_cluster.api("GET", f"/apis/apps/v1/namespaces/{kube_ns}/deployments")["items"]


def test_a_wait_that_is_not_met_times_out_with_what_it_waited_for(
    kube_cluster: KubeCluster, kube_ns: str
) -> None:
    create_web(kube_cluster, kube_ns)

    result = act(kube_cluster, on(kube_ns, "wait", condition="deleted", timeout="1s"))

    assert result.status is Status.TIMED_OUT
    assert f"Deployment {kube_ns}/web: 'deleted' did not hold by the deadline" in result.message


def test_the_kubernetes_probe_reads_replicas_pods_and_conditions(
    kube_cluster: KubeCluster, kube_ns: str
) -> None:
    create_web(kube_cluster, kube_ns)
    kubernetes = {"context": "kcp", "env_kubeconfig": str(kube_cluster.kubeconfig)}
    render = TemplateRenderer({"playbook": {"kubernetes": kubernetes}, "inputs": {}})
    base = {"namespace": kube_ns, "kind": "Deployment", "name": "web"}

    run = Resources()
    replicas = probe.read({**base, "check": "available_replicas"}, render, False, {}, run)
    too_few = probe.read(
        {**base, "check": "available_replicas", "minimum": 3}, render, False, {}, run
    )
    pods = probe.read({"namespace": kube_ns, "selector": "app=web", "check": "ready_pods"},
                      render, False, {}, run)  # fmt: skip
    condition = probe.read(
        {**base, "check": "condition", "condition": "Available"}, render, False, {}, run
    )
    lost = probe.read({**base, "context": "elsewhere"}, render, False, {}, run)
    run.close_all()

    assert (replicas.value, replicas.verdict) == (2.0, SliVerdict.HEALTHY)
    assert (too_few.value, too_few.verdict) == (2.0, SliVerdict.UNHEALTHY)
    assert (pods.value, pods.verdict) == (2.0, SliVerdict.HEALTHY)
    assert (condition.value, condition.verdict) == (1.0, SliVerdict.HEALTHY)
    assert lost.verdict is SliVerdict.UNKNOWN and "context 'elsewhere'" in lost.error


def _pdb(cluster: KubeCluster, ns: str, app: str, min_available: int) -> None:
    version = "v1" if "v1" in _policy_versions(cluster) else "v1beta1"
    spec = {"minAvailable": min_available, "selector": {"matchLabels": {"app": app}}}
    body = {"apiVersion": f"policy/{version}", "kind": "PodDisruptionBudget",
            "metadata": {"name": app}, "spec": spec}  # fmt: skip
    cluster.api("POST", f"/apis/policy/{version}/namespaces/{ns}/poddisruptionbudgets", body)


def _policy_versions(cluster: KubeCluster) -> list[str]:
    return [v["version"] for v in cluster.api("GET", "/apis/policy")["versions"]]


def _daemonset(cluster: KubeCluster, ns: str) -> None:
    labels = {"app": "agent"}
    pod = {"containers": [{"name": "a", "image": "agent:1"}]}
    body = {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent"},
            "spec": {"selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": pod}}}  # fmt: skip
    cluster.api("POST", f"/apis/apps/v1/namespaces/{ns}/daemonsets", body)
    path = f"/apis/apps/v1/namespaces/{ns}/daemonsets/agent"
    ready = lambda: cluster.api("GET", path)["status"].get("numberAvailable") == 2  # noqa: E731
    cluster.wait("agent on both nodes", ready)


def _pods_on(cluster: KubeCluster, ns: str, node: str) -> list[str]:
    pods = cluster.api("GET", f"/api/v1/namespaces/{ns}/pods")["items"]
    live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
    return sorted(p["metadata"]["labels"]["app"] for p in live if p["spec"].get("nodeName") == node)


def _schedulable(cluster: KubeCluster, node: str) -> bool:
    return not cluster.api("GET", f"/api/v1/nodes/{node}")["spec"].get("unschedulable")


def test_cordon_drain_uncordon_round_trip(kube_cluster: KubeCluster, kube_ns: str) -> None:
    create_web(kube_cluster, kube_ns, replicas=3)
    _pdb(kube_cluster, kube_ns, "web", 2)
    _daemonset(kube_cluster, kube_ns)
    try:
        ran = runbook("run", str(BOOKS / "drain.yaml"), "-i", "node=node-1",
                      extra_env=kube_cluster.env, timeout=120)  # fmt: skip

        assert ran.returncode == 0, ran.stdout + ran.stderr
        assert not _schedulable(kube_cluster, "node-1")
        assert _pods_on(kube_cluster, kube_ns, "node-1") == ["agent"]  # DaemonSet pod stays
        kube_cluster.wait("web back at 3", lambda: available(kube_cluster, kube_ns) == 3)
        assert _pods_on(kube_cluster, kube_ns, "node-2") == ["agent", "web", "web", "web"]
        results = {e["step_id"]: e["data"] for e in events(run_id_of(ran.stdout), "step_result")}
        assert results["cordon"]["captured"]["unschedulable"] is False
        assert results["uncordon"]["captured"]["unschedulable"] is True
        assert results["drain"]["message"].startswith("drained node node-1: evicted")

        rolled = runbook("rollback", "--yes", run_id_of(ran.stdout), extra_env=kube_cluster.env)

        assert rolled.returncode == 0, rolled.stdout + rolled.stderr
        assert _schedulable(kube_cluster, "node-1")
    finally:
        patch = {"spec": {"unschedulable": None}}
        kube_cluster.api("PATCH", "/api/v1/nodes/node-1", patch, content_type=MERGE)


def test_a_drain_that_a_disruption_budget_blocks_fails_at_its_deadline(
    kube_cluster: KubeCluster, kube_ns: str
) -> None:
    pinned = {"nodeSelector": {"kubernetes.io/hostname": "node-2"}}
    create_web(kube_cluster, kube_ns, replicas=1, template_spec=pinned)
    _pdb(kube_cluster, kube_ns, "web", 1)
    kube_cluster.wait("the budget counts the pod", lambda: _budget_ready(kube_cluster, kube_ns))
    body = {"action": "drain", "name": "node-2", "timeout": "3s"}
    try:
        result = act(kube_cluster, body)

        assert result.status is Status.FAILED
        assert "evict Pod" in result.message and "HTTP 429" in result.message
        assert "disruption budget" in result.message
        assert _pods_on(kube_cluster, kube_ns, "node-2") == ["web"]
        assert undo(kube_cluster, body, result).ok
        assert _schedulable(kube_cluster, "node-2")
    finally:
        patch = {"spec": {"unschedulable": None}}
        kube_cluster.api("PATCH", "/api/v1/nodes/node-2", patch, content_type=MERGE)


def _budget_ready(cluster: KubeCluster, ns: str) -> bool:
    version = "v1" if "v1" in _policy_versions(cluster) else "v1beta1"
    found = cluster.api("GET", f"/apis/policy/{version}/namespaces/{ns}/poddisruptionbudgets/web")
    return bool(found.get("status", {}).get("currentHealthy") == 1)
