"""`export`: the chosen namespaces' objects (Secrets and ConfigMaps included, PVC specs)
written to a directory outside the cluster, in the format of `engine.backends.kube.archive`.

Read-only towards the cluster: it lists, it never writes there. Every API read happens
before the first file is written; a failure while writing removes what it wrote. Its
undo removes the files it wrote and the directories it created (a directory that is
no longer empty stays). Output, ledger and `capture:` get paths and counts only: the
content of a Secret never leaves the export's 0600 files.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine import __version__
from engine.backends.kube import archive, kinds
from engine.backends.kube.client import KubeError
from engine.backends.kube.ops import ActionError, Done, Op, Preview
from engine.core.results import Verdict

NAMESPACE = kinds.KINDS["namespace"]


def apply(action: str, op: Op) -> Done:
    """List, strip, write one file per object, then the MANIFEST (last)."""
    objects, notes = collect(op)
    root = target_dir(op)
    written = archive.Written(root)
    try:
        written.mkdir(root)
        listed = [_write(written, kind, obj) for kind, obj in objects]
        op.captured.update(
            export_dir=str(root), created_dirs=[str(d) for d in written.dirs],
            files=[str(p.relative_to(root)) for p in written.files] + [archive.MANIFEST],
        )  # fmt: skip
        written.seal(_manifest(op, objects, listed))
    except OSError as exc:
        written.remove()
        op.captured.clear()
        raise ActionError(f"cannot write the export to {root}: {exc}") from None
    summary = archive.verify(root).summary()
    lines = [f"{kind}: {count}" for kind, count in sorted(summary["counts"].items())]
    text = "\n".join([f"export: {root}", *lines, *notes, f"manifest: {root / archive.MANIFEST}"])
    message = (
        f"exported {summary['objects']} objects ({summary['secrets']} Secrets) of "
        f"{', '.join(summary['namespaces'])} to {root}"
    )
    return Done(message, op.captured, summary, True, text)


def undo(action: str, op: Op, captured: Mapping[str, Any]) -> Done:
    """Remove the export (no API call)."""
    return undo_local(captured)


def undo_local(captured: Mapping[str, Any]) -> Done:
    """Remove the files the export wrote and the directories it created, if empty."""
    root = Path(str(captured["export_dir"]))
    written = archive.Written(root)
    for relative in captured.get("files") or []:
        written.files.append(archive.safe_path(root, str(relative)))
    written.dirs = [Path(str(d)) for d in captured.get("created_dirs") or []]
    kept = written.remove()
    if kept:
        return Done(f"removed the export's files; kept {', '.join(kept)} (not empty)", {})
    return Done(f"removed the export {root}", {})


def preview(action: str, op: Op) -> Preview:
    """The reads of a real export; says what it would write, writes nothing."""
    objects, notes = collect(op)
    root = target_dir(op)
    secrets = sum(1 for kind, _ in objects if kind.kind == "Secret")
    note = f"would write {len(objects)} objects ({secrets} Secrets) to {root}"
    return Preview(Verdict.WOULD_CHANGE, "; ".join([note, *notes]))


def collect(op: Op) -> tuple[list[tuple[kinds.Kind, dict[str, Any]]], list[str]]:
    """Every object to export, stripped, and notes on kinds the server does not serve."""
    explicit = bool(op.body.get("kinds"))
    names = [str(k) for k in op.body.get("kinds") or archive.DEFAULT_KINDS]
    notes: list[str] = []
    resolved: list[kinds.Kind] = []
    for name in names:
        kind = _resolve(op, name, explicit, notes)
        if kind is not None:
            resolved.append(kind)
    objects: list[tuple[kinds.Kind, dict[str, Any]]] = []
    for namespace in _namespaces(op):
        objects.append((NAMESPACE, _namespace(op, namespace)))
        found = [(kind, obj) for kind in resolved for obj in _list(op, kind, namespace, notes)]
        secrets = {o["metadata"]["name"] for k, o in found if k.kind == "Secret"}
        for kind, obj in found:
            if kind.kind == "ServiceAccount":
                obj = archive.without_tokens(obj, secrets)
            objects.append((kind, obj))
    return objects, notes


def target_dir(op: Op) -> Path:
    """The export's directory: `to`, or a new `to/<UTC time>` when timestamped."""
    root = archive.resolve_dir(op.body["to"], op.base_dir)
    if op.body.get("timestamped"):
        root = _new_stamp_dir(root)
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise ActionError(f"{root} exists and is not an empty directory: an export never "
                          "writes over anything")  # fmt: skip
    return root


def _new_stamp_dir(parent: Path) -> Path:
    """`parent/<UTC second>`, for a second no export has used yet: names have one-second
    resolution (archive.STAMP), so a second export within the same second (a schedule
    and a human, say) waits for the next one rather than fail or share a directory."""
    for _ in range(3):
        now = time.time()
        stamped = parent / datetime.fromtimestamp(now, UTC).strftime("%Y%m%dT%H%M%SZ")
        if not stamped.exists():
            return stamped
        time.sleep(1.0 - now % 1.0 + 0.01)
    return stamped  # still taken: the check below refuses it


def _namespaces(op: Op) -> list[str]:
    names = op.body.get("namespaces")
    if isinstance(names, str):
        names = names.split()
    if not isinstance(names, list) or not names:
        raise ActionError("export needs a non-empty list of `namespaces`")
    result = list(dict.fromkeys(str(n) for n in names))
    for name in result:
        if not archive.SEGMENT.match(name) or "." in name:
            raise ActionError(f"namespace {name!r} is not a valid Kubernetes namespace")
    return result


def _resolve(op: Op, name: str, explicit: bool, notes: list[str]) -> kinds.Kind | None:
    try:
        kind = kinds.resolve(op.client, name, op.deadline)
    except KubeError as exc:
        if explicit or exc.status != 404:
            raise
        notes.append(f"skipped {name}: the server does not serve it")
        return None
    if not kind.namespaced or kind.kind == "Namespace":
        raise ActionError(f"export takes namespaced kinds; {kind.kind} is not one")
    return kind


def _namespace(op: Op, name: str) -> dict[str, Any]:
    try:
        found: dict[str, Any] = op.client.call(
            "GET", NAMESPACE.path(None, name), op.deadline, verb="get",
            target=NAMESPACE.describe(None, name),
        )  # fmt: skip
    except KubeError as exc:
        if exc.status == 404:
            context = op.client.binding.context
            raise ActionError(f"namespace {name} does not exist in context {context}") from None
        raise
    if found.get("metadata", {}).get("deletionTimestamp"):
        raise ActionError(f"namespace {name} is being deleted: it cannot be exported")
    return archive.portable("Namespace", NAMESPACE.api_version, found)


def _list(op: Op, kind: kinds.Kind, namespace: str, notes: list[str]) -> list[dict[str, Any]]:
    try:
        found = op.client.call(
            "GET", kind.path(namespace), op.deadline, verb="list",
            target=kind.describe(namespace, None),
        )  # fmt: skip
    except KubeError as exc:
        if exc.status != 404 or op.body.get("kinds"):
            raise
        notes.append(f"skipped {kind.kind}: the server does not serve {kind.api_version}")
        return []
    items = [i for i in found.get("items", []) if not archive.skipped(kind.kind, i)]
    return [archive.portable(kind.kind, kind.api_version, i) for i in items]


def _write(written: archive.Written, kind: kinds.Kind, obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj["metadata"]
    namespace = str(meta["name"] if kind.kind == "Namespace" else meta["namespace"])
    relative = archive.relative_file(kind.kind, kind.plural, namespace, str(meta["name"]))
    data = archive.encode(obj)
    written.write(relative, data)
    entry = {"kind": kind.kind, "apiVersion": obj["apiVersion"], "name": meta["name"]}
    entry["namespace"] = None if kind.kind == "Namespace" else namespace
    return {**entry, "file": relative, "sha256": archive.sha256(data)}


def _manifest(
    op: Op, objects: list[tuple[kinds.Kind, dict[str, Any]]], listed: list[dict[str, Any]]
) -> dict[str, Any]:
    now = time.time()
    counts: dict[str, int] = {}
    for kind, _ in objects:
        counts[kind.kind] = counts.get(kind.kind, 0) + 1
    return {
        "format": archive.FORMAT, "engine_version": __version__,
        "context": op.client.binding.context, "cluster_uid": op.client.uid or None,
        "server": op.client.host,
        "taken_at": datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "taken_at_unix": int(now), "namespaces": _namespaces(op),
        "kinds": [str(k) for k in op.body.get("kinds") or archive.DEFAULT_KINDS],
        "counts": counts, "objects": listed,
    }  # fmt: skip
