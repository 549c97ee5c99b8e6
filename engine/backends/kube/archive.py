"""The on-disk format of `export` and `restore`: one JSON file per object, a MANIFEST
written last, and the checks a restore makes before any API call.

    DIR/                         0700
      <namespace>/namespace.json the Namespace
      <namespace>/<plural>/<name>.json
      MANIFEST.json              written last (atomic rename): no MANIFEST, no export

Every file is 0600 (Secrets are in there) and every directory 0700. MANIFEST.json
lists each object (kind, apiVersion, namespace, name, file, sha256 of the file), the
engine version, the context, the cluster's kube-system UID and when it was taken; a
restore refuses a directory whose MANIFEST is missing or whose files do not match it,
and one that is not the user's alone (`engine.core.private_files`): whoever could write it
could rewrite the MANIFEST and the files together, and choose what is applied.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from msgspec import Struct, field

from engine.backends.kube.ops import ActionError
from engine.core.private_files import (
    UnsafePathError,
    check_private_descriptor,
    check_private_folder,
)

MANIFEST = "MANIFEST.json"
PARTIAL = ".MANIFEST.json.partial"
FORMAT = "runbook-engine/export/v1"
STAMP = re.compile(r"^[0-9]{8}T[0-9]{6}Z\Z")  # a timestamped export's directory name
SEGMENT = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?\Z")
FILE_MODE, DIR_MODE = 0o600, 0o700

# What an export takes when `kinds:` is not given (the Namespace itself always).
DEFAULT_KINDS = (
    "ServiceAccount", "ConfigMap", "Secret", "Role", "RoleBinding", "PersistentVolumeClaim",
    "Service", "Deployment", "StatefulSet", "DaemonSet", "CronJob", "Ingress",
    "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy",
)  # fmt: skip
# Restore order: what others refer to first.
RANKS = {
    "Namespace": 0, "ServiceAccount": 1, "ConfigMap": 1, "Secret": 1, "Role": 1,
    "RoleBinding": 1, "PersistentVolumeClaim": 2, "Service": 3, "Ingress": 5,
    "HorizontalPodAutoscaler": 5, "PodDisruptionBudget": 5, "NetworkPolicy": 5,
}  # fmt: skip
WORKLOAD_RANK = 4
# Set by the API server or a controller; a new cluster sets its own.
SERVER_METADATA = (
    "uid", "resourceVersion", "creationTimestamp", "generation", "managedFields", "selfLink",
    "ownerReferences", "deletionTimestamp", "deletionGracePeriodSeconds",
)  # fmt: skip
SERVER_ANNOTATIONS = (
    "deployment.kubernetes.io/revision", "pv.kubernetes.io/bind-completed",
    "pv.kubernetes.io/bound-by-controller", "volume.beta.kubernetes.io/storage-provisioner",
    "volume.kubernetes.io/storage-provisioner", "volume.kubernetes.io/selected-node",
)  # fmt: skip
SA_TOKEN = "kubernetes.io/service-account-token"  # noqa: S105 - a Secret type, not a secret


def rank(kind: str) -> int:
    """Where `kind` comes in a restore (lower first)."""
    return RANKS.get(kind, WORKLOAD_RANK)


def skipped(kind: str, obj: Mapping[str, Any]) -> bool:
    """Objects an export leaves out: those a controller owns (ReplicaSets, Pods, Jobs of
    a CronJob), service-account tokens and the CA bundle every namespace gets."""
    meta = obj.get("metadata") or {}
    if any(ref.get("controller") for ref in meta.get("ownerReferences") or []):
        return True
    if kind == "Secret" and obj.get("type") == SA_TOKEN:
        return True
    return kind == "ConfigMap" and meta.get("name") == "kube-root-ca.crt"


def portable(kind: str, api_version: str, obj: Mapping[str, Any]) -> dict[str, Any]:
    """The object without what the API server set: what a new cluster can create."""
    result = copy.deepcopy(dict(obj))
    result["apiVersion"], result["kind"] = api_version, kind
    result.pop("status", None)
    meta = result.setdefault("metadata", {})
    for key in SERVER_METADATA:
        meta.pop(key, None)
    annotations = {
        k: v for k, v in (meta.get("annotations") or {}).items() if k not in SERVER_ANNOTATIONS
    }
    meta.pop("annotations", None)
    if annotations:
        meta["annotations"] = annotations
    spec = result.get("spec")
    if isinstance(spec, dict):
        _portable_spec(kind, spec)
    return result


def _portable_spec(kind: str, spec: dict[str, Any]) -> None:
    if kind == "Service" and spec.get("clusterIP") != "None":  # headless stays headless
        spec.pop("clusterIP", None)
        spec.pop("clusterIPs", None)
    elif kind == "PersistentVolumeClaim":
        spec.pop("volumeName", None)  # a new cluster provisions its own volume
    elif kind == "Pod":
        spec.pop("nodeName", None)


def without_tokens(obj: dict[str, Any], tokens: set[str]) -> dict[str, Any]:
    """A ServiceAccount without references to the token Secrets the export left out."""
    kept = [ref for ref in obj.get("secrets") or [] if ref.get("name") not in tokens]
    obj.pop("secrets", None)
    if kept:
        obj["secrets"] = kept
    return obj


def relative_file(kind: str, plural: str, namespace: str, name: str) -> str:
    """Where an object's file goes inside the export."""
    for part in (namespace, name, plural):
        if not SEGMENT.match(part):
            raise ActionError(f"{kind} {namespace}/{name}: {part!r} cannot be a file name")
    if kind == "Namespace":
        return f"{namespace}/namespace.json"
    return f"{namespace}/{plural}/{name}.json"


def encode(obj: Mapping[str, Any]) -> bytes:
    """An object's file content."""
    return (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode()


def sha256(data: bytes) -> str:
    """The hex digest the MANIFEST records."""
    return hashlib.sha256(data).hexdigest()


class Written(Struct):
    """What an export put on disk: its files and the directories it created."""

    root: Path
    dirs: list[Path] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)

    def mkdir(self, path: Path) -> None:
        """Create `path` (0700) and the parents that are missing; remember them."""
        missing = []
        current = path
        while not current.exists():
            missing.append(current)
            current = current.parent
        for folder in reversed(missing):
            try:
                os.mkdir(folder, DIR_MODE)
            except FileExistsError:
                continue  # made by someone else meanwhile: not ours to remove
            os.chmod(folder, DIR_MODE)
            self.dirs.append(folder)

    def write(self, relative: str, data: bytes) -> None:
        """A new file (never an existing one), 0600, flushed to disk."""
        path = self.root / relative
        self.mkdir(path.parent)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE)
        self.files.append(path)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(path, FILE_MODE)

    def seal(self, manifest: Mapping[str, Any]) -> Path:
        """Write MANIFEST.json last, by an atomic rename: only now is the export complete."""
        self.write(PARTIAL, (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode())
        final = self.root / MANIFEST
        os.replace(self.root / PARTIAL, final)
        self.files[-1] = final
        for folder in {p.parent for p in self.files}:
            _fsync_dir(folder)
        return final

    def remove(self) -> list[str]:
        """Remove the files, then the directories it created (only if empty); what stays."""
        kept = []
        for path in reversed(self.files):
            path.unlink(missing_ok=True)
        for folder in sorted(self.dirs, key=lambda p: len(p.parts), reverse=True):
            try:
                folder.rmdir()
            except FileNotFoundError:
                continue
            except OSError:
                kept.append(str(folder))
        return kept


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Entry(Struct, frozen=True):
    """One object of a verified export."""

    kind: str
    api_version: str
    namespace: str
    name: str
    file: str
    obj: dict[str, Any]

    @property
    def rank(self) -> int:
        return rank(self.kind)

    def describe(self) -> str:
        where = "" if self.kind == "Namespace" else f"{self.namespace}/"
        return f"{self.kind} {where}{self.name}"


class Archive(Struct, frozen=True):
    """A verified export: its MANIFEST and its objects, in restore order."""

    root: Path
    manifest: dict[str, Any]
    entries: list[Entry]

    @property
    def namespaces(self) -> list[str]:
        return sorted({e.namespace for e in self.entries})

    def only(self, namespaces: Iterable[str] | None) -> Archive:
        """The objects of these namespaces (all when None); an unknown one is refused."""
        if not namespaces:
            return self
        wanted = list(dict.fromkeys(str(n) for n in namespaces))
        unknown = [n for n in wanted if n not in self.namespaces]
        if unknown:
            have = ", ".join(self.namespaces) or "none"
            raise ActionError(f"the export has no namespace {', '.join(unknown)} (it has: {have})")
        return Archive(self.root, self.manifest, [e for e in self.entries if e.namespace in wanted])

    def summary(self) -> dict[str, Any]:
        """What `capture:` stores and plans show: paths and counts, never object content."""
        counts: dict[str, int] = {}
        for entry in self.entries:
            counts[entry.kind] = counts.get(entry.kind, 0) + 1
        return {
            "dir": str(self.root), "manifest": str(self.root / MANIFEST),
            "objects": len(self.entries), "secrets": counts.get("Secret", 0),
            "counts": counts, "namespaces": self.namespaces,
            "context": self.manifest.get("context"),
            "cluster_uid": self.manifest.get("cluster_uid"),
            "taken_at": self.manifest.get("taken_at"),
        }  # fmt: skip


def verify(root: Path) -> Archive:
    """The export at `root`, checked against its MANIFEST: every file present, its sha256
    as recorded, its object the one listed. ActionError on anything else."""
    manifest = _read_manifest(root)
    entries = [_entry(root, item) for item in manifest["objects"]]
    seen = set()
    for entry in entries:
        key = (entry.kind, entry.namespace, entry.name)
        if key in seen:
            raise ActionError(f"{root}: the MANIFEST lists {entry.describe()} twice")
        seen.add(key)
    entries.sort(key=lambda e: (e.rank, e.namespace, e.kind, e.name))
    return Archive(root, manifest, entries)


def _read_manifest(root: Path) -> dict[str, Any]:
    path = root / MANIFEST
    if not root.is_dir():
        raise ActionError(f"{root} is not a directory")
    _refuse_unless_private(lambda: check_private_folder(root))
    if not path.is_file():
        raise ActionError(
            f"{root} has no {MANIFEST}: the export is incomplete (it never finished) "
            "or this is not an export"
        )
    try:
        manifest = json.loads(_read_private(path))
    except (OSError, ValueError) as exc:
        raise ActionError(f"{path} cannot be read as JSON: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ActionError(f"{path} is not a MANIFEST of format {FORMAT}")
    if not isinstance(manifest.get("objects"), list):
        raise ActionError(f"{path} has no list of objects")
    return manifest


def _read_private(path: Path) -> bytes:
    """The bytes of an export's file, never through a symlink, refused unless ours alone."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as handle:
        _refuse_unless_private(lambda: check_private_descriptor(path, handle.fileno()))
        return handle.read()


def _refuse_unless_private(check: Callable[[], None]) -> None:
    try:
        check()
    except UnsafePathError as exc:
        raise ActionError(f"{exc.message}; nothing was restored (fix: {exc.hint})") from None


def _entry(root: Path, item: Any) -> Entry:
    if not isinstance(item, dict) or not all(
        isinstance(item.get(k), str) for k in ("kind", "apiVersion", "name", "file", "sha256")
    ):
        raise ActionError(f"{root / MANIFEST}: a malformed object entry: {str(item)[:200]}")
    path = safe_path(root, item["file"])
    try:
        data = _read_private(path)
    except OSError as exc:
        raise ActionError(
            f"{item['file']} (listed in the MANIFEST) cannot be read: {exc}"
        ) from None
    if sha256(data) != item["sha256"]:
        raise ActionError(
            f"{item['file']} does not match its sha256 in the MANIFEST: the export was changed "
            "after it was taken; nothing was restored"
        )
    try:
        obj = json.loads(data)
    except ValueError:
        raise ActionError(f"{item['file']} is not JSON") from None
    if not isinstance(obj, dict):
        raise ActionError(f"{item['file']} does not hold an object")
    meta = obj.get("metadata") or {}
    namespace = str(item.get("namespace") or meta.get("name") or "")
    found = (obj.get("kind"), obj.get("apiVersion"), meta.get("name"))
    if found != (item["kind"], item["apiVersion"], item["name"]) or (
        item["kind"] != "Namespace" and meta.get("namespace") != namespace
    ):
        raise ActionError(f"{item['file']} does not hold the object the MANIFEST lists for it")
    return Entry(item["kind"], item["apiVersion"], namespace, item["name"], item["file"], obj)


def safe_path(root: Path, relative: str) -> Path:
    """`root/relative`, refused when `relative` would leave `root`."""
    parts = relative.split("/")
    if relative.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ActionError(f"{root / MANIFEST}: file {relative!r} is outside the export")
    path = root.joinpath(*parts)
    if not path.resolve().is_relative_to(root.resolve()):
        raise ActionError(f"{root / MANIFEST}: file {relative!r} is outside the export")
    return path


def latest(parent: Path) -> Path:
    """The newest export under `parent` (by directory name: a timestamped export's name is
    its UTC time) that has a MANIFEST; incomplete ones are passed over, never restored."""
    try:
        folders = sorted((p for p in parent.iterdir() if p.is_dir()), reverse=True)
    except OSError as exc:
        raise ActionError(f"cannot list the exports in {parent}: {exc}") from None
    for folder in folders:
        if (folder / MANIFEST).is_file():
            return folder
    raise ActionError(f"no complete export (a directory with a {MANIFEST}) in {parent}")


def resolve_dir(raw: Any, base_dir: Path) -> Path:
    """A `to:` / `from:` path: `~` expanded, relative to the playbook's folder."""
    path = Path(os.path.expanduser(str(raw)))
    return path if path.is_absolute() else base_dir / path
