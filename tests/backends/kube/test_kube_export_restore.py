"""`kubectl` export and restore: backup → wipe → restore against the REAL kube-apiserver
(tests/kube_fixtures.py), through the CLI and through the step type as the runner calls
it; the checks a restore makes on its files before any API call; the parts that need
no cluster (the step body, the MANIFEST checks) at the end."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from kube_fixtures import KubeCluster, deployment, kubectl, step_context
from run_fixtures import current_env, ledger_bytes, run_env, run_id_of, runbook  # noqa: F401
from tree import TESTS

from engine.backends.kube import archive
from engine.backends.kube.ops import ActionError
from engine.core.findings import Location
from engine.core.results import SpecError, Status, StepResult, Verdict
from engine.steps import kubectl as step

BOOKS = TESTS / "playbooks" / "kube"
PASSWORD = "s3cret-hunter2-value"  # must never reach the terminal or the ledger
SERVER_META = ("uid", "resourceVersion", "creationTimestamp", "generation", "managedFields")
SERVER_ANNOTATIONS = ("deployment.kubernetes.io/revision",)
ROOT_CA = "kube-root-ca.crt"


def seed(cluster: KubeCluster, ns: str) -> None:
    """A ConfigMap, a Secret, a PVC, two Services (one headless) and a Deployment."""
    core = f"/api/v1/namespaces/{ns}"
    labels = {"app": "shop", "tier": "web"}
    cluster.api("POST", f"{core}/configmaps", {
        "metadata": {"name": "settings", "labels": labels, "annotations": {"owner": "team"}},
        "data": {"mode": "prod", "limits.json": '{"rps": 10}'},
    })  # fmt: skip
    cluster.api("POST", f"{core}/secrets", {
        "metadata": {"name": "db"}, "type": "Opaque", "stringData": {"password": PASSWORD},
    })  # fmt: skip
    cluster.api("POST", f"{core}/persistentvolumeclaims", {
        "metadata": {"name": "data", "labels": labels},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    })  # fmt: skip
    for name, extra in (("web", {}), ("web-peers", {"clusterIP": "None"})):
        cluster.api("POST", f"{core}/services", {
            "metadata": {"name": name, "labels": labels},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}], **extra},
        })  # fmt: skip
    manifest = deployment(replicas=1)
    manifest["metadata"]["annotations"] = {"note": "restored as it was"}
    cluster.api("POST", f"/apis/apps/v1/namespaces/{ns}/deployments", manifest)


PATHS = {
    "ConfigMap": "/api/v1/namespaces/{ns}/configmaps",
    "Secret": "/api/v1/namespaces/{ns}/secrets",
    "PersistentVolumeClaim": "/api/v1/namespaces/{ns}/persistentvolumeclaims",
    "Service": "/api/v1/namespaces/{ns}/services",
    "Deployment": "/apis/apps/v1/namespaces/{ns}/deployments",
}


def essence(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    """What must round-trip: everything but status and what the server sets itself."""
    out = {k: v for k, v in obj.items() if k not in ("status", "metadata", "kind", "apiVersion")}
    meta = {k: v for k, v in obj["metadata"].items() if k not in SERVER_META}
    notes = {k: v for k, v in (meta.pop("annotations", None) or {}).items()
             if k not in SERVER_ANNOTATIONS}  # fmt: skip
    out["metadata"] = {**meta, **({"annotations": notes} if notes else {})}
    spec = dict(out.get("spec") or {})
    if kind == "Service" and spec.get("clusterIP") != "None":
        spec.pop("clusterIP", None)
        spec.pop("clusterIPs", None)
    if kind == "PersistentVolumeClaim":
        spec.pop("volumeName", None)
    if spec:
        out["spec"] = spec
    return out


def objects(cluster: KubeCluster, ns: str) -> dict[tuple[str, str], dict[str, Any]]:
    found = {}
    for kind, path in PATHS.items():
        for item in cluster.api("GET", path.format(ns=ns))["items"]:
            if item.get("type") == archive.SA_TOKEN or item["metadata"]["name"] == ROOT_CA:
                continue  # made by the cluster's controllers, in every namespace
            found[(kind, item["metadata"]["name"])] = essence(kind, item)
    return found


def wipe(cluster: KubeCluster, ns: str) -> None:
    """What a wiped VM does to a namespace: gone, with everything in it."""
    cluster.api("DELETE", f"/api/v1/namespaces/{ns}")
    cluster.wait(f"namespace {ns} gone", lambda: _gone(cluster, ns), timeout=90)


def _gone(cluster: KubeCluster, ns: str) -> bool:
    names = [n["metadata"]["name"] for n in cluster.api("GET", "/api/v1/namespaces")["items"]]
    return ns not in names


def act(cluster: KubeCluster, body: dict[str, Any], mode: str = "live") -> StepResult:
    return step.apply(kubectl(body), step_context(cluster.kubeconfig, 60, mode))


def export(cluster: KubeCluster, ns: str, to: Path) -> StepResult:
    done = act(cluster, {"action": "export", "namespaces": [ns], "to": str(to)})
    assert done.ok, done.message
    return done


def restore(cluster: KubeCluster, source: Path, **more: Any) -> StepResult:
    return act(cluster, {"action": "restore", "from": str(source), **more})


def run(cluster: KubeCluster, book: str, *inputs: str) -> Any:
    args = [part for item in inputs for part in ("-i", item)]
    return runbook("run", str(BOOKS / book), *args, extra_env=cluster.env, timeout=120)


@pytest.mark.integration
def test_backup_wipe_restore_round_trips_the_objects_exactly(
    kube_cluster: KubeCluster, kube_ns: str
) -> None:
    env = current_env()
    seed(kube_cluster, kube_ns)
    before = objects(kube_cluster, kube_ns)
    taken = env.work / "backup"

    exported = run(kube_cluster, "export.yaml", f"namespace={kube_ns}", f"dir={taken}")

    assert exported.returncode == 0, exported.stdout + exported.stderr
    manifest = json.loads((taken / archive.MANIFEST).read_text())
    listed = {(o["kind"], o["name"]) for o in manifest["objects"]}
    assert set(before) | {("Namespace", kube_ns)} <= listed
    assert ("ConfigMap", ROOT_CA) not in listed
    secret = taken / kube_ns / "secrets" / "db.json"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert stat.S_IMODE(taken.stat().st_mode) == stat.S_IMODE(secret.parent.stat().st_mode)
    assert stat.S_IMODE(taken.stat().st_mode) == 0o700
    service = json.loads((taken / kube_ns / "services" / "web.json").read_text())
    assert "clusterIP" not in service["spec"] and "uid" not in service["metadata"]

    wipe(kube_cluster, kube_ns)
    restored = run(kube_cluster, "restore.yaml", f"dir={taken}")

    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert objects(kube_cluster, kube_ns) == before
    encoded = base64.b64encode(PASSWORD.encode())
    for text in (exported.stdout + exported.stderr, restored.stdout + restored.stderr):
        assert PASSWORD not in text and encoded.decode() not in text
    ledger = ledger_bytes(env)
    assert PASSWORD.encode() not in ledger and encoded not in ledger

    undone = runbook("rollback", "--yes", run_id_of(restored.stdout), extra_env=kube_cluster.env)

    assert undone.returncode == 0, undone.stdout + undone.stderr
    namespace = kube_cluster.api("GET", "/api/v1/namespaces")["items"]
    left = [n for n in namespace if n["metadata"]["name"] == kube_ns]
    assert not left or left[0]["metadata"].get("deletionTimestamp")
    kube_cluster.wait("the restored namespace gone", lambda: _gone(kube_cluster, kube_ns), 90)
    kube_cluster.api("POST", "/api/v1/namespaces", {"metadata": {"name": kube_ns}})  # teardown


@pytest.mark.integration
def test_a_tampered_or_incomplete_export_is_refused_before_any_api_call(
    kube_cluster: KubeCluster, kube_ns: str, tmp_path: Path
) -> None:
    seed(kube_cluster, kube_ns)
    export(kube_cluster, kube_ns, tmp_path / "x")
    settings = tmp_path / "x" / kube_ns / "configmaps" / "settings.json"
    changed = json.loads(settings.read_text())
    changed["data"]["mode"] = "evil"
    settings.write_text(json.dumps(changed))
    path = PATHS["ConfigMap"].format(ns=kube_ns) + "/settings"
    kube_cluster.api("DELETE", path)
    # A kubeconfig whose server refuses every connection: a refusal that names the
    # checksum (not the connection) shows that nothing was sent.
    dead = tmp_path / "dead-kubeconfig"
    config = json.loads(kube_cluster.kubeconfig.read_text())
    config["clusters"][0]["cluster"]["server"] = "https://127.0.0.1:9"
    dead.write_text(json.dumps(config))
    body = {"action": "restore", "from": str(tmp_path / "x")}

    tampered = step.apply(kubectl(body), step_context(dead))

    assert tampered.status is Status.FAILED
    assert "settings.json does not match its sha256" in tampered.message
    (tmp_path / "x" / archive.MANIFEST).unlink()
    incomplete = restore(kube_cluster, tmp_path / "x")
    assert incomplete.status is Status.FAILED and "the export is incomplete" in incomplete.message
    listed = kube_cluster.api("GET", PATHS["ConfigMap"].format(ns=kube_ns))["items"]
    assert "settings" not in [c["metadata"]["name"] for c in listed]


@pytest.mark.integration
def test_dry_run_changes_nothing_and_says_what_would(
    kube_cluster: KubeCluster, kube_ns: str, tmp_path: Path
) -> None:
    seed(kube_cluster, kube_ns)
    export(kube_cluster, kube_ns, tmp_path / "x")
    configmaps, secrets = (PATHS[k].format(ns=kube_ns) for k in ("ConfigMap", "Secret"))
    kube_cluster.api("PATCH", f"{configmaps}/settings", {"data": {"mode": "changed"}},
                     content_type="application/merge-patch+json")  # fmt: skip
    kube_cluster.api("DELETE", f"{secrets}/db")
    versions = {i["metadata"]["name"]: i["metadata"]["resourceVersion"]
                for i in kube_cluster.api("GET", configmaps)["items"]}  # fmt: skip
    body = kubectl({"action": "restore", "from": str(tmp_path / "x")})

    planned = step.plan(body, step_context(kube_cluster.kubeconfig, mode="dry-run"))

    assert planned.verdict is Verdict.WOULD_CHANGE, planned.note
    assert "would create 1, update 1" in planned.note
    after = {i["metadata"]["name"]: i["metadata"]["resourceVersion"]
             for i in kube_cluster.api("GET", configmaps)["items"]}  # fmt: skip
    assert after == versions
    assert "db" not in [s["metadata"]["name"] for s in kube_cluster.api("GET", secrets)["items"]]
    assert restore(kube_cluster, tmp_path / "x").ok
    again = step.plan(body, step_context(kube_cluster.kubeconfig, mode="dry-run"))
    assert again.verdict is Verdict.NO_OP, again.note
    exported = step.plan(
        kubectl({"action": "export", "namespaces": [kube_ns], "to": str(tmp_path / "y")}),
        step_context(kube_cluster.kubeconfig, mode="dry-run"),
    )
    assert exported.verdict is Verdict.WOULD_CHANGE and not (tmp_path / "y").exists()


@pytest.mark.integration
def test_restore_updates_what_differs_and_its_undo_puts_it_back(
    kube_cluster: KubeCluster, kube_ns: str, tmp_path: Path
) -> None:
    seed(kube_cluster, kube_ns)
    export(kube_cluster, kube_ns, tmp_path / "x")
    configmaps, secrets = (PATHS[k].format(ns=kube_ns) for k in ("ConfigMap", "Secret"))
    merge = "application/merge-patch+json"
    kube_cluster.api("PATCH", f"{configmaps}/settings", {"data": {"mode": "changed"}},
                     content_type=merge)  # fmt: skip
    kube_cluster.api("DELETE", f"{PATHS['Deployment'].format(ns=kube_ns)}/web")

    done = restore(kube_cluster, tmp_path / "x")

    assert done.ok, done.message
    assert "created 1, updated 1" in done.message
    assert kube_cluster.api("GET", f"{configmaps}/settings")["data"]["mode"] == "prod"
    assert PASSWORD not in json.dumps(done.captured) + done.output + done.message
    undone = step.undo(kubectl({"action": "restore", "from": "x"}), done.captured,
                       step_context(kube_cluster.kubeconfig))  # fmt: skip
    assert undone.ok, undone.message
    assert kube_cluster.api("GET", f"{configmaps}/settings")["data"]["mode"] == "changed"
    deployments = kube_cluster.api("GET", PATHS["Deployment"].format(ns=kube_ns))["items"]
    assert [d for d in deployments if not d["metadata"].get("deletionTimestamp")] == []

    kube_cluster.api("PATCH", f"{secrets}/db", {"stringData": {"password": "other"}},
                     content_type=merge)  # fmt: skip
    refused = restore(kube_cluster, tmp_path / "x")
    assert refused.status is Status.FAILED and "does not overwrite a Secret" in refused.message
    assert kube_cluster.api("GET", f"{configmaps}/settings")["data"]["mode"] == "changed"


@pytest.mark.integration
def test_export_refuses_a_used_directory_and_its_undo_removes_only_its_own(
    kube_cluster: KubeCluster, kube_ns: str, tmp_path: Path
) -> None:
    kube_cluster.api("POST", PATHS["ConfigMap"].format(ns=kube_ns), {"metadata": {"name": "a"}})
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "keep.txt").write_text("mine")
    body = {"action": "export", "namespaces": [kube_ns], "to": str(tmp_path / "used")}

    refused = act(kube_cluster, body)

    assert refused.status is Status.FAILED and "not an empty directory" in refused.message
    body = {**body, "to": str(tmp_path / "backups"), "timestamped": True}
    done = act(kube_cluster, body)
    assert done.ok, done.message
    (taken,) = (tmp_path / "backups").iterdir()
    assert archive.STAMP.match(taken.name) and done.value["dir"] == str(taken)
    assert done.value["counts"]["ConfigMap"] == 1 and done.value["secrets"] == 0
    undone = step.undo(kubectl(body), done.captured, step_context(kube_cluster.kubeconfig))
    assert undone.ok and not (tmp_path / "backups").exists(), undone.message
    missing = act(kube_cluster, {**body, "namespaces": ["no-such-namespace"]})
    assert missing.status is Status.FAILED and "does not exist" in missing.message


@pytest.mark.integration
def test_timestamped_exports_in_the_same_second_get_directories_of_their_own(
    kube_cluster: KubeCluster, kube_ns: str, tmp_path: Path
) -> None:
    to = tmp_path / "backups"
    body = {"action": "export", "namespaces": [kube_ns], "to": str(to), "timestamped": True}

    first, second = act(kube_cluster, body), act(kube_cluster, body)  # well within a second

    assert first.ok and second.ok, first.message + second.message
    taken = sorted(p.name for p in to.iterdir())
    assert len(taken) == 2 and all(archive.STAMP.match(name) for name in taken)
    assert [first.value["dir"], second.value["dir"]] == [str(to / name) for name in taken]


# --- no cluster needed ------------------------------------------------------------


def test_the_step_body_of_export_and_restore_is_checked_when_loaded() -> None:
    where = Location("x.yaml")
    cases = [
        ({"action": "export", "to": "/b"}, "kubectl export needs `namespaces`"),
        ({"action": "export", "namespaces": ["a"]}, "kubectl export needs `to`"),
        ({"action": "export", "namespace": "a", "namespaces": ["a"], "to": "/b"},
         "does not take `namespace`"),
        ({"action": "export", "namespaces": ["Shop"], "to": "/b"}, "not a namespace name"),
        ({"action": "export", "namespaces": ["a"], "to": "/b", "kinds": ["Node"]},
         "cannot take kind 'Node'"),
        ({"action": "export", "namespaces": ["a"], "to": "/b", "kinds": ["secret"]},
         "spelled 'Secret'"),
        ({"action": "restore"}, "kubectl restore needs `from`"),
        ({"action": "restore", "from": "/b", "kind": "Pod"}, "does not take `kind`"),
    ]  # fmt: skip
    for body, message in cases:
        with pytest.raises(SpecError, match=message):
            step.parse(body, where)
    export_spec = step.parse({"action": "export", "namespaces": "{{ x }}", "to": "/b"}, where)
    assert step.undoes_itself(export_spec) and not step.is_readonly(export_spec)
    check = step.parse({"action": "restore", "from": "/b", "verify_only": True}, where)
    assert step.is_readonly(check)


def fake_export(root: Path, objects: list[dict[str, Any]]) -> None:
    """An export written with the archive's own writer (no cluster)."""
    written = archive.Written(root)
    written.mkdir(root)
    entries = []
    for obj in objects:
        meta = obj["metadata"]
        namespace = meta.get("namespace") or meta["name"]
        plural = obj["kind"].lower() + "s"
        relative = archive.relative_file(obj["kind"], plural, namespace, meta["name"])
        data = archive.encode(obj)
        written.write(relative, data)
        entries.append({"kind": obj["kind"], "apiVersion": obj["apiVersion"],
                        "namespace": meta.get("namespace"), "name": meta["name"],
                        "file": relative, "sha256": archive.sha256(data)})  # fmt: skip
    written.seal({"format": archive.FORMAT, "context": "c", "objects": entries})


NS = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}
CM = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "shop"}}


def test_verify_checks_paths_checksums_and_picks_the_newest_complete_export(
    tmp_path: Path,
) -> None:
    fake_export(tmp_path / "20240101T000000Z", [CM, NS])
    fake_export(tmp_path / "20240102T000000Z", [NS])
    (tmp_path / "20240103T000000Z").mkdir()  # incomplete: no MANIFEST
    assert archive.latest(tmp_path).name == "20240102T000000Z"
    found = archive.verify(tmp_path / "20240101T000000Z")
    assert [e.kind for e in found.entries] == ["Namespace", "ConfigMap"]  # dependency order
    with pytest.raises(ActionError, match="has no namespace other"):
        found.only(["other"])

    manifest = tmp_path / "20240101T000000Z" / archive.MANIFEST
    data = json.loads(manifest.read_text())
    data["objects"][0]["file"] = "../../etc/passwd"
    manifest.write_text(json.dumps(data))
    with pytest.raises(ActionError, match="outside the export"):
        archive.verify(tmp_path / "20240101T000000Z")


def test_verify_only_reads_files_and_never_a_cluster(tmp_path: Path) -> None:
    fake_export(tmp_path / "20240101T000000Z", [NS, CM])
    body = {"action": "restore", "from": str(tmp_path), "latest": True, "verify_only": True}
    # No kubeconfig at all: a step that tried to connect would fail on that.
    checked = step.apply(kubectl(body), step_context(tmp_path / "no-kubeconfig"))
    assert checked.ok, checked.message
    assert checked.value["objects"] == 2 and checked.value["dir"].endswith("20240101T000000Z")
    planned = step.plan(kubectl(body), step_context(tmp_path / "no-kubeconfig", mode="dry-run"))
    assert planned.readonly and planned.verdict is Verdict.NO_OP


def _exported(tmp_path: Path) -> Path:
    root = tmp_path / "exports" / "20240101T000000Z"
    root.parent.mkdir(mode=0o700)
    fake_export(root, [NS, CM])
    archive.verify(root)  # as written: accepted
    return root


@pytest.mark.parametrize("bits", [0o770, 0o707])
def test_an_export_others_can_write_is_not_restored(tmp_path: Path, bits: int) -> None:
    root = _exported(tmp_path)
    root.chmod(bits)  # whoever can write here can rewrite the MANIFEST and the files alike
    with pytest.raises(ActionError, match=r"writable by others.*nothing was restored"):
        archive.verify(root)


@pytest.mark.parametrize("name", [archive.MANIFEST, "shop/namespace.json"])
def test_an_export_file_others_can_write_or_own_is_not_restored(tmp_path: Path, name: str) -> None:
    root = _exported(tmp_path)
    (root / name).chmod(0o666)
    with pytest.raises(ActionError, match=r"writable by others.*nothing was restored"):
        archive.verify(root)
    (root / name).chmod(0o600)
    os.chown(root / name, 65534, 65534)
    with pytest.raises(ActionError, match="owned by uid 65534"):
        archive.verify(root)


def test_an_export_reached_through_a_symlink_or_below_an_open_folder_is_not_restored(
    tmp_path: Path,
) -> None:
    root = _exported(tmp_path)
    link = tmp_path / "link"
    link.symlink_to(root)
    with pytest.raises(ActionError, match="is a symlink"):
        archive.verify(link)
    root.parent.chmod(0o777)
    with pytest.raises(ActionError, match=f"{root.parent} is writable by others"):
        archive.verify(root)
