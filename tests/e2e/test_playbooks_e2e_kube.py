"""The Kubernetes playbooks end to end through the CLI (`runbook drill`), against the REAL
kube-apiserver, controller-manager and scheduler of tests/kube_fixtures.py and the REAL
Prometheus + Pushgateway of tests/prom_fixtures.py:

* kubernetes/crashloop-rollback: the drill's own inject patches the Deployment with a
  container command that exits 1; the real deployment controller rolls out the new
  ReplicaSet; the playbook reads the rollout, the ReplicaSets and the crashing pod's log
  (through the API server's pods/log proxy), rolls back and the SLI recovers.
* kubernetes/node-disk-pressure: the drill's own inject fills the node's disk over SSH
  (a REAL sshd with a real sudo, in a mount namespace of its own where a small tmpfs is
  /var/lib, so the playbook's absolute paths — /var/lib/kubelet,
  /var/lib/systemd/coredump — are real files on a real filesystem without touching this
  machine's); the playbook cordons and drains the node (a real eviction, the pod is
  rescheduled on another node by the real scheduler), frees the disk, waits for the
  condition to clear and uncordons.

Stand-ins (tests/kube_node_stand_in.py), for what cannot run here: a Node of the test's
own whose "kubelet" runs container commands as local processes and reports DiskPressure
from that tmpfs (no container runtime, no kubelet here), and kube-state-metrics (not
installed), whose series are computed from the real API server's objects and pushed to
the real Pushgateway. `crictl` on the node is a fake: there are no container images to
prune on this machine. The SLI timings are shortened in a copy of each playbook (only
`settle:` and `interval:`); the steps, inject and revert are the shipped ones byte for
byte.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from components import require_binary
from kube_fixtures import KubeCluster, available, create_web
from kube_node_stand_in import MetricsStandIn, NodeStandIn
from prom_fixtures import PromStack
from sli_helpers import events, run_cli, step_statuses
from sshd_fixtures import SshServer, sibling_sshd, sudoers_rule
from test_playbooks_e2e import REPO, outcome

CRASHLOOP = REPO / "playbooks/kubernetes/crashloop-rollback.yaml"
DISK_PRESSURE = REPO / "playbooks/kubernetes/node-disk-pressure.yaml"
REVISION = "deployment.kubernetes.io/revision"

pytestmark = pytest.mark.integration


def fast_copy(source: Path, tmp_path: Path, **timings: str) -> Path:
    """The playbook with shorter SLI timings (`settle="60s:1s"`): nothing else differs."""
    text = source.read_text()
    start, end = text.index("\nsli:\n"), text.index("\nsteps:\n")
    head, sli, rest = text[:start], text[start:end], text[end:]
    for key, change in timings.items():
        old, new = change.split(":")
        line = f"\n  {key}: {old}\n"
        assert sli.count(line) == 1, (key, sli)
        sli = sli.replace(line, f"\n  {key}: {new}\n")
    path = tmp_path / source.name
    path.write_text(head + sli + rest)
    return path


def step_data(run_id: str, step: str) -> dict[str, Any]:
    found = [e for e in events(run_id) if e["kind"] == "step_result"]
    return dict(next(e["data"] for e in found if e["step_id"] == step))


def _results(run_id: str) -> list[str]:
    return [str(e["step_id"]) for e in events(run_id) if e["kind"] == "step_result"]


def drill_report(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    try:
        return dict(json.loads(done.stdout))
    except json.JSONDecodeError:
        raise AssertionError(done.stdout + done.stderr) from None


@pytest.fixture
def kube_env(kube_cluster: KubeCluster, monkeypatch: pytest.MonkeyPatch) -> KubeCluster:
    """KUBECONFIG of the real cluster (context `kcp`) for the CLI and `kubectl`."""
    monkeypatch.setenv("KUBECONFIG", str(kube_cluster.kubeconfig))
    return kube_cluster


def _stopped(*parts: NodeStandIn | MetricsStandIn) -> None:
    for part in parts:
        part.stop()
    errors = [e for part in parts for e in part.errors]
    assert not errors, errors


# -- kubernetes/crashloop-rollback ----------------------------------------------------


def waiting_series(cluster: KubeCluster, ns: str) -> list[str]:
    """kube-state-metrics' `kube_pod_container_status_waiting_reason`, from the pods the
    real API server holds (a STAND-IN: kube-state-metrics is not installed here)."""
    lines = []
    for pod in cluster.api("GET", f"/api/v1/namespaces/{ns}/pods")["items"]:
        for status in pod["status"].get("containerStatuses", []):
            reason = status.get("state", {}).get("waiting", {}).get("reason")
            if reason:
                labels = (f'namespace="{ns}",pod="{pod["metadata"]["name"]}",'
                          f'container="{status["name"]}",reason="{reason}"')  # fmt: skip
                lines.append(f"kube_pod_container_status_waiting_reason{{{labels}}} 1")
    return lines


@dataclasses.dataclass
class Crashloop:
    cluster: KubeCluster
    ns: str
    node: NodeStandIn
    playbook: Path
    before: dict[str, Any]  # the Deployment at revision 1, as the API server held it

    @property
    def path(self) -> str:
        return f"/apis/apps/v1/namespaces/{self.ns}/deployments/web"

    def inputs(self, prometheus_url: str) -> list[str]:
        pairs = [f"context={self.cluster.context}", f"namespace={self.ns}", "deployment=web",
                 "selector=app=web", f"prometheus_url={prometheus_url}"]  # fmt: skip
        return [arg for pair in pairs for arg in ("-i", pair)]

    def assert_back_at_revision_1(self) -> dict[str, Any]:
        """The Deployment runs revision 1's pod template again, all its pods ready and none
        crash-looping; returns it as the API server holds it."""
        after = self.cluster.api("GET", self.path)
        template = after["spec"]["template"]
        assert template["metadata"]["labels"] == {"app": "web"}  # the drill's label is gone
        containers = self.before["spec"]["template"]["spec"]["containers"]
        assert template["spec"]["containers"] == containers
        assert "command" not in template["spec"]["containers"][0]
        assert after["metadata"]["annotations"][REVISION] == "3"  # revision 1's template again
        self.cluster.wait("web available again", lambda: available(self.cluster, self.ns) == 2)
        assert waiting_series(self.cluster, self.ns) == []  # no container crash-loops any more
        return dict(after)


@pytest.fixture
def crashloop(
    kube_env: KubeCluster, kube_ns: str, prom_stack: PromStack, tmp_path: Path
) -> Iterator[Crashloop]:
    """Deployment `web` (2 replicas, revision 1) on a node of the test's own, the
    stand-in exporter of its pods' waiting reasons, and the fast copy of the playbook."""
    cluster, ns = kube_env, kube_ns
    require_binary("kubectl", "kubernetes-client")  # the drill's revert runs kubectl
    node = NodeStandIn(cluster.kubeconfig, cluster.context, f"crash-{uuid.uuid4().hex[:6]}",
                       tmp_path).start()  # fmt: skip
    pinned = {"nodeSelector": {"kubernetes.io/hostname": node.name}}  # pods on the stand-in
    exporter = MetricsStandIn(prom_stack.pushgateway_url, ns, lambda: waiting_series(cluster, ns))
    try:
        create_web(cluster, ns, replicas=2, template_spec=pinned)
        exporter.start()
        before = cluster.api("GET", f"/apis/apps/v1/namespaces/{ns}/deployments/web")
        assert before["metadata"]["annotations"][REVISION] == "1"
        playbook = fast_copy(CRASHLOOP, tmp_path, settle="60s:1s", interval="15s:1s")
        yield Crashloop(cluster, ns, node, playbook, before)
    finally:
        _stopped(exporter, node)


def test_crashloop_rollback_drill_rolls_the_deployment_back(
    crashloop: Crashloop, prom_stack: PromStack
) -> None:
    began = time.monotonic()
    done = run_cli("drill", str(crashloop.playbook), "--yes", "-o", "json",
                   *crashloop.inputs(prom_stack.prometheus_url), timeout=120)  # fmt: skip
    took = time.monotonic() - began
    report = drill_report(done)
    parts = {p["name"]: p for p in report["parts"]}
    remediation = parts["remediate"]["run_id"]
    assert done.returncode == 0 and report["verdict"] == "passed", report
    assert outcome(remediation) == "recovered"
    statuses = step_statuses(remediation)
    for step in ("rollout_state", "revisions", "crash_logs", "rollout_undo"):
        assert statuses[step] == "succeeded", statuses
    assert statuses["wait_available"] == "skipped"  # the SLI recovered first
    # The crashing container's own output, read back through the real API server's
    # pods/log proxy (the playbook keeps it as evidence).
    logs = json.dumps(step_data(remediation, "crash_logs"))
    assert "runbook drill: crashing on purpose" in logs, logs[:2000]
    undone = step_data(remediation, "rollout_undo")
    assert undone["captured"], undone  # the revision it replaced, for its own undo
    revert = json.dumps(step_data(parts["revert"]["run_id"], "remove_crashing_revision"))
    assert "nothing to revert" in revert, revert  # the playbook had already rolled back
    crashloop.assert_back_at_revision_1()
    print(f"crashloop-rollback drill: {took:.1f} s")


def test_crashloop_rollback_declined_at_the_terminal_the_drill_revert_rolls_back(
    crashloop: Crashloop, prom_stack: PromStack
) -> None:
    """The operator says no at the rollback's confirm gate: the run is aborted before
    it changes anything, and the drill's revert (the real `kubectl`, with the kubeconfig
    of the real cluster) finds its crashing revision still live and rolls it back."""
    from run_fixtures import finish_terminal, spawn_terminal

    began = time.monotonic()
    child = spawn_terminal("drill", str(crashloop.playbook), "-o", "json",
                           *crashloop.inputs(prom_stack.prometheus_url), timeout=60)  # fmt: skip
    child.expect(r"\? (Roll back deployment[^\r\n]*)")
    prompt = child.match.group(1)
    child.sendline("n")
    code = finish_terminal(child, timeout=90)
    took = time.monotonic() - began
    tail = child.before.replace("\r\n", "\n")
    report = json.loads(tail[tail.index("\n{\n") :])
    parts = {p["name"]: p for p in report["parts"]}
    remediation = parts["remediate"]["run_id"]
    assert code == 130 and report["verdict"] == "aborted", report  # exit 130: declined
    assert outcome(remediation) == "aborted"
    assert prompt.startswith("Roll back deployment"), prompt
    statuses = step_statuses(remediation)
    assert "rollout_undo" not in statuses and statuses["crash_logs"] == "succeeded", statuses
    revert = json.dumps(step_data(parts["revert"]["run_id"], "remove_crashing_revision"))
    assert "rolled back" in revert, revert
    crashloop.assert_back_at_revision_1()
    print(f"crashloop-rollback drill, declined: {took:.1f} s")


def test_crashloop_rollback_confirm_gate_names_the_deployment(
    crashloop: Crashloop, prom_stack: PromStack
) -> None:
    """The shipped confirm text names the Deployment, namespace and context through
    templates: the operator must see the values, not `{{ inputs.deployment }}`. (`--force`:
    the Deployment is healthy, nothing is injected; the run is declined at the gate.)"""
    from run_fixtures import finish_terminal, spawn_terminal

    child = spawn_terminal("run", str(crashloop.playbook), "--force",
                           *crashloop.inputs(prom_stack.prometheus_url), timeout=60)  # fmt: skip
    child.expect(r"\? (Roll back deployment[^\r\n]*)")
    prompt = child.match.group(1)
    child.sendline("n")
    assert finish_terminal(child) == 130
    assert crashloop.cluster.api("GET", crashloop.path)["metadata"]["annotations"][REVISION] == "1"
    wanted = f"Roll back deployment web in {crashloop.ns} ({crashloop.cluster.context}) to"
    assert prompt.startswith(wanted), prompt


def _revert_output(run_id: str) -> str:
    return json.dumps([e["data"] for e in events(run_id) if e["kind"] == "step_result"])


# -- kubernetes/node-disk-pressure ----------------------------------------------------

FAKE_CRICTL = """\
#!/bin/sh
# FAKE crictl: no container runtime (so no images to prune) on this machine.
echo "$*" >> {calls}
echo "no unused images to remove"
"""
STAND_IN_JOURNALCTL = """\
#!/bin/sh
# STAND-IN journalctl: records its arguments; the machine's journal is never vacuumed.
echo "$*" >> {calls}
echo "Vacuuming done, freed 0B of archived journals (stand-in)."
"""


@pytest.fixture
def node_sshd(sshd: SshServer, remote_dir: Path) -> Iterator[tuple[SshServer, Path, int]]:
    """A second sshd (same keys and user as the session's) in a mount namespace of its
    own, where /var/lib is a 64 MiB tmpfs holding /var/lib/kubelet and
    /var/lib/systemd/coredump: the "node's disk". Its sessions run a fake `crictl` and a
    stand-in `journalctl` under sudo (secure_path), so the machine's journal is left
    alone. Yields (server, fake bin folder, the sshd's pid)."""
    require_binary("sudo", "sudo")
    unshare = require_binary("unshare", "util-linux")
    if os.geteuid() != 0 or sshd.user == "root":
        pytest.skip("a mount namespace, a tmpfs and a sudoers rule for the test user need root")
    bin_dir = remote_dir / "fakebin"
    bin_dir.mkdir()
    (bin_dir / "crictl").write_text(FAKE_CRICTL.format(calls=bin_dir / "crictl.calls"))
    (bin_dir / "crictl").chmod(0o755)
    journalctl = bin_dir / "journalctl"
    journalctl.write_text(STAND_IN_JOURNALCTL.format(calls=bin_dir / "journalctl.calls"))
    journalctl.chmod(0o755)
    secure_path = f"{bin_dir}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    allowed = ["/usr/bin/sh", "/bin/sh", f"{bin_dir}/journalctl", f"{bin_dir}/crictl",
               "/usr/bin/rm", "/bin/rm"]  # fmt: skip
    text = (f'Defaults:{sshd.user} secure_path="{secure_path}"\n'
            f"{sshd.user} ALL=(root) NOPASSWD: {', '.join(allowed)}\n")  # fmt: skip
    setup = ("mount -t tmpfs -o size=64m,mode=0755 runbook-node-disk /var/lib && "
             'mkdir -p /var/lib/kubelet /var/lib/systemd/coredump && exec "$@"')  # fmt: skip
    launcher = [unshare, "--mount", "--propagation", "private", "--", "/bin/sh", "-c", setup,
                "sh"]  # fmt: skip
    # the namespace, and its tmpfs, go with the sshd, its last process
    with sudoers_rule("runbook-e2e-kube", text), sibling_sshd(sshd, launcher=launcher) as server:
        yield server, bin_dir, server.process.pid


def node_series(cluster: KubeCluster, name: str) -> list[str]:
    """kube-state-metrics' `kube_node_status_condition` and `kube_node_spec_unschedulable`
    for one node, from the Node the real API server holds (a STAND-IN, see above)."""
    node = cluster.api("GET", f"/api/v1/nodes/{name}")
    lines = []
    for condition in node["status"].get("conditions", []):
        for status in ("true", "false", "unknown"):
            value = int(condition["status"].lower() == status)
            labels = f'node="{name}",condition="{condition["type"]}",status="{status}"'
            lines.append(f"kube_node_status_condition{{{labels}}} {value}")
    unschedulable = int(bool(node["spec"].get("unschedulable")))
    lines.append(f'kube_node_spec_unschedulable{{node="{name}"}} {unschedulable}')
    return lines


def pods_of_web(cluster: KubeCluster, ns: str) -> dict[str, str]:
    """name -> node of the Deployment's pods that are not being deleted."""
    pods = cluster.api("GET", f"/api/v1/namespaces/{ns}/pods")["items"]
    return {
        p["metadata"]["name"]: p["spec"].get("nodeName", "")
        for p in pods if not p["metadata"].get("deletionTimestamp")
    }  # fmt: skip


def test_node_disk_pressure_drill_drains_frees_the_disk_and_uncordons(
    kube_env: KubeCluster,
    kube_ns: str,
    prom_stack: PromStack,
    node_sshd: tuple[SshServer, Path, int],
    tmp_path: Path,
) -> None:
    cluster, ns = kube_env, kube_ns
    server, bin_dir, sshd_pid = node_sshd
    disk = Path(f"/proc/{sshd_pid}/root/var/lib")  # the tmpfs, as the node's sshd sees it

    def pressure() -> bool:  # the kubelet's default: nodefs.available < 10 %
        usage = os.statvfs(disk / "kubelet")
        return usage.f_bavail < usage.f_blocks * 0.10

    name = f"disk-{uuid.uuid4().hex[:6]}"
    node = NodeStandIn(cluster.kubeconfig, cluster.context, name, tmp_path, pressure).start()
    exporter = MetricsStandIn(prom_stack.pushgateway_url, name, lambda: node_series(cluster, name))
    on_node = {"key": "kubernetes.io/hostname", "operator": "In", "values": [name]}
    preferred = [{"weight": 100, "preference": {"matchExpressions": [on_node]}}]
    prefer = {"affinity": {"nodeAffinity": {
        "preferredDuringSchedulingIgnoredDuringExecution": preferred}}}  # fmt: skip
    try:
        exporter.start()
        create_web(cluster, ns, replicas=1, template_spec=prefer)
        ((first, where),) = pods_of_web(cluster, ns).items()
        assert where == name, f"the scheduler put {first} on {where}, not on {name}"
        prom_stack.wait_for(f'kube_node_spec_unschedulable{{node="{name}"}}', 0)
        inventory = server.inventory(tmp_path / "inventory.yaml")
        playbook = fast_copy(DISK_PRESSURE, tmp_path, settle="30s:1s", interval="15s:1s")

        began = time.monotonic()
        done = run_cli(
            "drill", str(playbook), "--yes", "-o", "json", "--inventory", str(inventory),
            "-i", f"context={cluster.context}", "-i", f"node={name}", "-i", "ssh_host=box",
            "-i", f"prometheus_url={prom_stack.prometheus_url}", timeout=150,
        )  # fmt: skip
        took = time.monotonic() - began
        report = drill_report(done)
        parts = {p["name"]: p for p in report["parts"]}
        remediation = parts["remediate"]["run_id"]
        assert done.returncode == 0 and report["verdict"] == "passed", (report, node.errors)
        assert outcome(remediation) == "recovered"
        statuses = step_statuses(remediation)
        steps = ["node_state", "disk_usage", "cordon", "drain", "prune_images",
                 "vacuum_journal", "delete_old_core_dumps", "wait_pressure_cleared",
                 "uncordon"]  # fmt: skip
        assert {s: statuses.get(s) for s in steps} == dict.fromkeys(steps, "succeeded")
        assert _results(remediation) == steps  # in the playbook's order, each once
        assert first in json.dumps(step_data(remediation, "drain"))  # evicted by the drain

        # Real state: the node is schedulable again and without DiskPressure, the fake
        # core dump the inject wrote was deleted by the playbook (not the revert), the
        # evicted pod's replacement runs on another node.
        held = cluster.api("GET", f"/api/v1/nodes/{name}")
        assert not held["spec"].get("unschedulable")
        conditions = {c["type"]: c["status"] for c in held["status"]["conditions"]}
        assert conditions["DiskPressure"] == "False"
        assert not (disk / "systemd/coredump/core.runbook-drill").exists()
        assert not pressure()
        assert (bin_dir / "crictl.calls").read_text() == "rmi --prune\n"
        assert (bin_dir / "journalctl.calls").read_text().startswith("--vacuum-size=")
        pods = pods_of_web(cluster, ns)
        assert first not in pods and len(pods) == 1 and name not in pods.values(), pods
        assert available(cluster, ns) == 1
        print(f"node-disk-pressure drill: {took:.1f} s")
    finally:
        _stopped(exporter, node)
