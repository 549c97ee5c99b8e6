"""Every shipped playbook validates strictly and dry-runs, and runs end to end: the drill
injects the fault, the SLI sees it, the run recovers — asserted on what the fakes
recorded and, for kubectl steps, on the REAL kube-apiserver of tests/kube_fixtures.py
(the backup and docker-vm-wiped playbooks: the minikube and Docker Desktop CLIs are
fakes, the cluster they stand for is that API server). The Kubernetes playbooks run
end to end in tests/e2e/test_playbooks_e2e_kube.py, the Linux and PostgreSQL ones in
tests/e2e/test_playbooks_e2e_hosts.py, the AI ones in tests/e2e/test_playbooks_e2e_ai.py."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kube_fixtures import KubeCluster
from localstack_fixtures import DOCKER, LocalStack, desktop_vm
from sli_helpers import events, run_cli, run_id_of
from tree import REPO

from engine.playbook.loader import load_playbook

PLAYBOOKS = sorted((REPO / "playbooks").glob("*/*.yaml"))
SAMPLE_INPUTS = {
    "context": "minikube", "namespace": "shop", "deployment": "web", "selector": "app=web",
    "node": "node-1", "ssh_host": "node-1", "host": "node-1", "service": "nginx", "job": "node",
    "primary": "db-1", "replica": "db-2", "check_namespace": "shop", "model": "llama3.1:8b",
}  # fmt: skip


def required_inputs(path: Path) -> list[str]:
    playbook = load_playbook(str(path))
    wanted = [s.name for s in playbook.inputs.values() if s.required and s.default is None]
    return [f"{name}={SAMPLE_INPUTS[name]}" for name in wanted]


def outcome(run_id: str) -> str:
    return str(next(e["data"]["outcome"] for e in events(run_id) if e["kind"] == "run_finished"))


def run(path: Path, *inputs: str) -> tuple[int, str, str]:
    args = [arg for item in inputs for arg in ("-i", item)]
    done = run_cli("run", str(path), "--yes", *args, timeout=240)
    output = done.stdout + done.stderr
    return done.returncode, output, run_id_of(done.stdout)


DRILL = """\
import sys
from msgspec.structs import replace
from engine.modes.run import execute_prepared
from engine.ledger import new_run_id
from engine.run.preflight import RunRequest, prepare
section, path, pairs = sys.argv[1], sys.argv[2], dict(a.split("=", 1) for a in sys.argv[3:])
run_id = new_run_id()
prepared = prepare(RunRequest(path, pairs, assume_yes=True), run_id, mode="drill")
steps = getattr(prepared.playbook.drill, section)
prepared.playbook = replace(prepared.playbook, steps=steps, sli=None)
sys.exit(0 if execute_prepared(prepared, run_id).outcome == "completed" else 1)
"""


def drill(section: str, path: Path, *inputs: str) -> None:
    """Run the playbook's drill.inject (or drill.revert) steps as a recorded drill run."""
    done = subprocess.run(
        [sys.executable, "-c", DRILL, section, str(path), *inputs],
        capture_output=True, text=True, timeout=120, cwd=REPO,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def inject(path: Path, *inputs: str) -> None:
    drill("inject", path, *inputs)


def test_every_shipped_playbook_validates_strictly() -> None:
    done = run_cli("validate", "--strict", str(REPO / "playbooks"))
    assert done.returncode == 0, done.stdout
    assert f"{len(PLAYBOOKS)} playbook(s) checked: {len(PLAYBOOKS)} valid" in done.stdout


@pytest.mark.parametrize("path", PLAYBOOKS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_shipped_playbook_dry_runs_without_side_effects(
    path: Path, fake_minikube: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GATEWAY_ADMIN_TOKEN", "plan-token")
    args = [arg for item in required_inputs(path) for arg in ("-i", item)]
    done = run_cli("plan", str(path), *args)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "nothing will be changed" in done.stdout
    assert fake_minikube.calls("minikube", phase="start") == []
    assert "plan-token" not in done.stdout


@pytest.mark.parametrize("path", PLAYBOOKS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_shipped_playbook_is_a_real_runbook(path: Path) -> None:
    playbook = load_playbook(str(path))
    meta = playbook.metadata
    assert meta.summary and meta.owner and len(meta.description) > 200, "symptoms and cause"
    assert playbook.sli is not None, "an SLI"
    assert playbook.drill is not None and playbook.drill.inject, "a drill that injects its fault"
    assert meta.maturity in (1, 2, 3)


def test_apiserver_down_recovers_by_restarting_the_kubelet(
    fake_minikube: LocalStack, stand_in_apiserver: str
) -> None:
    path = REPO / "playbooks/minikube/apiserver-down.yaml"
    fake_minikube.profile("minikube")
    inject(path)
    assert fake_minikube.state()["minikube"]["profiles"]["minikube"]["apiserver"] == "Stopped"
    code, output, run_id = run(path)
    assert code == 0 and outcome(run_id) == "recovered", output
    commands = fake_minikube.commands("minikube")
    assert "-p minikube ssh -- sudo systemctl restart kubelet" in commands
    assert not any(c.endswith(" stop") for c in commands)  # never got to the full restart
    assert "-p minikube update-context" not in commands


def test_wont_start_deletes_a_stale_profile_and_starts_a_new_one(
    fake_docker: LocalStack, isolated_home: Path
) -> None:
    desktop_vm(isolated_home, memory_mib=8192)
    fake_docker.profile("minikube", machine_missing=True)
    code, output, run_id = run(REPO / "playbooks/minikube/wont-start.yaml", "memory=4g")
    assert code == 0 and outcome(run_id) == "recovered", output
    commands = fake_docker.commands("minikube")
    start = "-p minikube start --driver=docker --memory=4096mb"
    assert commands.index("-p minikube delete") < commands.index(start)
    assert ["restart"] not in fake_docker.calls("docker-desktop")  # memory was enough


def test_wont_start_raises_docker_desktops_memory_and_restarts_it(
    fake_docker: LocalStack, isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = desktop_vm(isolated_home, memory_mib=2048)
    monkeypatch.setenv("FAKE_DESKTOP_SETTINGS", str(settings))
    fake_docker.update(lambda s: s["engine"].__setitem__("mem_total_mib", 2048))
    code, output, run_id = run(REPO / "playbooks/minikube/wont-start.yaml", "memory=4g")
    assert code == 0 and outcome(run_id) == "recovered", output
    assert json.loads(settings.read_text())["MemoryMiB"] == 6144
    assert ["restart"] in fake_docker.calls("docker-desktop")
    assert fake_docker.state()["minikube"]["profiles"]["minikube"]["memory_mib"] == 4096


def test_wont_start_drill_docker_desktop_stopped(
    fake_docker: LocalStack, isolated_home: Path
) -> None:
    desktop_vm(isolated_home)
    fake_docker.profile("minikube")
    path = REPO / "playbooks/minikube/wont-start.yaml"
    inject(path)
    assert fake_docker.state()["desktop"]["status"] == "stopped"
    code, output, run_id = run(path)
    assert code == 0 and outcome(run_id) == "recovered", output
    assert fake_docker.calls("docker-desktop")[-1] == ["status", "--format", "json"] or [
        "start"
    ] in fake_docker.calls("docker-desktop")
    assert fake_docker.state()["minikube"]["profiles"]["minikube"]["status"] == "Running"


def test_engine_unresponsive_drill_recovers_after_a_restart(
    fake_docker: LocalStack, isolated_home: Path
) -> None:
    desktop_vm(isolated_home)
    path = REPO / "playbooks/docker-desktop/engine-unresponsive.yaml"
    inject(path)
    assert subprocess.run([DOCKER, "info"], capture_output=True).returncode == 1
    code, output, run_id = run(path)
    assert code == 0 and outcome(run_id) == "recovered", output
    assert fake_docker.calls("docker-desktop")[:2] == [["status", "--format", "json"], ["stop"]]
    assert ["restart"] in fake_docker.calls("docker-desktop")
    assert subprocess.run([DOCKER, "info"], capture_output=True).returncode == 0


def seed(ns: str) -> list[dict[str, Any]]:
    """A namespace's objects as a user created them."""
    labels = {"app": "web"}
    pod = {"containers": [{"name": "web", "image": "nginx:1.27"}]}
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": ns},
         "data": {"mode": "prod"}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": ns},
         "type": "Opaque", "data": {"password": "aHVudGVyMg=="}},
        {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
         "metadata": {"name": "data", "namespace": ns},
         "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": ns},
         "spec": {"selector": labels, "ports": [{"port": 80}]}},
        {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {"name": "web", "namespace": ns, "labels": labels},
         "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                  "template": {"metadata": {"labels": labels}, "spec": pod}}},
    ]  # fmt: skip


PATHS = {
    "Namespace": "/api/v1/namespaces", "ConfigMap": "/api/v1/namespaces/{ns}/configmaps",
    "Secret": "/api/v1/namespaces/{ns}/secrets",
    "PersistentVolumeClaim": "/api/v1/namespaces/{ns}/persistentvolumeclaims",
    "Service": "/api/v1/namespaces/{ns}/services",
    "Deployment": "/apis/apps/v1/namespaces/{ns}/deployments",
}  # fmt: skip


def create(cluster: KubeCluster, objects: list[dict[str, Any]]) -> None:
    for obj in objects:
        ns = obj["metadata"].get("namespace", "")
        cluster.api("POST", PATHS[obj["kind"]].format(ns=ns), obj)


def held(cluster: KubeCluster, objects: list[dict[str, Any]]) -> dict[str, Any]:
    """The seeded objects as the API server holds them, without what the server sets."""
    out = {}
    for obj in objects:
        meta = obj["metadata"]
        found = cluster.api("GET", f"{PATHS[obj['kind']].format(ns=meta.get('namespace'))}"
                                   f"/{meta['name']}")  # fmt: skip
        found.pop("status", None)
        for key in ("uid", "resourceVersion", "creationTimestamp", "managedFields", "generation"):
            found["metadata"].pop(key, None)
        notes = found["metadata"].pop("annotations", {})
        notes.pop("deployment.kubernetes.io/revision", None)
        if notes:
            found["metadata"]["annotations"] = notes
        for key in ("clusterIP", "clusterIPs", "volumeName"):
            found.get("spec", {}).pop(key, None)
        out[f"{obj['kind']}/{meta['name']}"] = found
    return out


def wipe(cluster: KubeCluster, ns: str) -> None:
    """What the wiped VM took: the namespace and everything in it."""
    cluster.api("DELETE", f"/api/v1/namespaces/{ns}")

    def gone() -> bool:
        return ns not in [
            n["metadata"]["name"] for n in cluster.api("GET", PATHS["Namespace"])["items"]
        ]

    cluster.wait(f"namespace {ns} gone", gone, timeout=90)


@pytest.fixture
def minikube_cluster(
    kube_cluster: KubeCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[KubeCluster]:
    """KUBECONFIG with a context `minikube` (as `minikube start` writes it) for the real
    API server."""
    config = json.loads(kube_cluster.kubeconfig.read_text())
    config["contexts"][0]["name"] = config["current-context"] = "minikube"
    path = tmp_path / "kubeconfig"
    path.write_text(json.dumps(config))
    monkeypatch.setenv("KUBECONFIG", str(path))
    yield kube_cluster


@pytest.mark.integration
def test_backup_then_wiped_vm_then_restore_round_trips_the_objects(
    fake_docker: LocalStack, minikube_cluster: KubeCluster, isolated_home: Path
) -> None:
    ns = f"shop-{uuid.uuid4().hex[:6]}"
    objects = seed(ns)
    create(minikube_cluster, objects)
    before = held(minikube_cluster, objects)
    desktop_vm(isolated_home)
    fake_docker.profile("minikube", memory_mib=8192, cpus=4)
    backup = REPO / "playbooks/backup/cluster-state-backup.yaml"
    code, output, run_id = run(backup, f"namespaces={ns}")
    assert code == 0 and outcome(run_id) == "recovered", output
    assert "aHVudGVyMg==" not in output and "hunter2" not in output
    (taken,) = (isolated_home / "runbook-backups" / "minikube").iterdir()
    assert stat.S_IMODE(taken.stat().st_mode) == 0o700
    assert stat.S_IMODE((taken / ns / "secrets" / "db.json").stat().st_mode) == 0o600
    manifest = json.loads((taken / "MANIFEST.json").read_text())
    assert manifest["context"] == "minikube" and manifest["cluster_uid"] == minikube_cluster.uid()
    wiped = REPO / "playbooks/minikube/docker-vm-wiped.yaml"
    inject(wiped, f"check_namespace={ns}")
    assert "minikube" not in fake_docker.state()["minikube"]["profiles"]
    wipe(minikube_cluster, ns)  # the fake `minikube delete` cannot reach the real API server
    code, output, run_id = run(wiped, f"check_namespace={ns}", "memory=8g")
    assert code == 0 and outcome(run_id) == "recovered", output
    assert held(minikube_cluster, objects) == before
    assert "-p minikube start --memory=8192mb" in fake_docker.commands("minikube")
    minikube_cluster.api("DELETE", f"/api/v1/namespaces/{ns}")


@pytest.mark.integration
def test_backup_retention_keeps_the_newest_complete_backups(
    minikube_cluster: KubeCluster, kube_ns: str, isolated_home: Path
) -> None:
    root = isolated_home / "runbook-backups" / "minikube"
    for name in ("20240101T000000Z", "20240102T000000Z", "20240103T000000Z"):
        (root / name).mkdir(parents=True)
        (root / name / "MANIFEST.json").write_text('{\n "taken_at_unix": 1704067200\n}\n')
    (root / "20231231T000000Z").mkdir()  # incomplete: never counted, never removed
    path = REPO / "playbooks/backup/cluster-state-backup.yaml"
    code, output, run_id = run(path, f"namespaces={kube_ns}", "keep=2")
    assert code == 0, output
    names = sorted(p.name for p in root.iterdir())
    assert names[:2] == ["20231231T000000Z", "20240103T000000Z"] and len(names) == 3
    inject(path)  # the schedule "stopped" two days ago
    code, output, run_id = run(path, f"namespaces={kube_ns}", "keep=2")
    assert code == 0 and outcome(run_id) == "recovered", output


def test_engine_unresponsive_stops_on_a_missing_disk_image_and_undoes_the_context(
    fake_docker: LocalStack, isolated_home: Path
) -> None:
    desktop_vm(isolated_home)
    (isolated_home / ".docker/desktop/vms/0/data/Docker.raw").unlink()
    inject(REPO / "playbooks/docker-desktop/engine-unresponsive.yaml")  # Docker Desktop stopped
    subprocess.run([DOCKER, "context", "create", "old", "--docker", "host=tcp://192.0.2.1:1"],
                   capture_output=True, check=True)  # fmt: skip
    subprocess.run([DOCKER, "context", "use", "old"], capture_output=True, check=True)
    code, output, run_id = run(REPO / "playbooks/docker-desktop/engine-unresponsive.yaml")
    assert code == 1 and outcome(run_id) == "failed", output
    assert "no VM disk image at" in output
    undone = [e["step_id"] for e in events(run_id) if e["kind"] == "undo_result"]
    assert undone == ["use_desktop_context"]
    shown = subprocess.run([DOCKER, "context", "show"], capture_output=True, text=True)
    assert shown.stdout.strip() == "old"
    assert ["restart"] not in fake_docker.calls("docker-desktop")
