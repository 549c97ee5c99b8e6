"""`apply`: create the object of a manifest (inline or from a file), or update it with a
server-side apply. Undo deletes what it created (only that very object, by UID), or
restores the captured object. Updating a Secret is refused: its undo would have to
keep the old secret data in the ledger."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine.backends.kube import fields, kinds
from engine.backends.kube.client import KubeError, on_conflict
from engine.backends.kube.ops import (
    APPLY_PATCH,
    FIELD_MANAGER,
    ActionError,
    Done,
    Op,
    Preview,
    check_names,
    clean,
    kind_of,
    rv,
    undo_op,
)
from engine.core.errors import InvalidPlaybook
from engine.core.regular_file import read_regular_text
from engine.core.results import Verdict
from engine.model.yamlsource import load_documents

IGNORED = ("managedFields", "resourceVersion", "generation")


def apply(action: str, op: Op) -> Done:
    """Create or update; captures whether it created, or the object as it was."""
    manifest, kind = _target(op)
    return on_conflict(lambda: _apply_once(op, manifest, kind))


def _apply_once(op: Op, manifest: dict[str, Any], kind: kinds.Kind) -> Done:
    current = _read(op, kind)
    op.captured.clear()
    op.captured.update(op.identity(kind))
    if current is None:
        created = op.write("POST", kind, op.name, manifest, verb="create")
        op.captured.update(created=True, uid=created.get("metadata", {}).get("uid"))
        return Done(f"created {op.target(kind)}", op.captured, {"created": True}, True)
    if kind.kind == "Secret":
        raise ActionError(f"{op.target(kind)} exists; apply does not update Secrets")
    op.captured.update(created=False, fields=fields.snapshot(current, fields.all_parts(current)))
    result = server_side_apply(op, kind, manifest, rv(current))
    changed = comparable(result) != comparable(current)
    verb = "updated" if changed else "unchanged:"
    return Done(f"{verb} {op.target(kind)}", op.captured, {"created": False}, changed)


def undo(action: str, op: Op, captured: Mapping[str, Any]) -> Done:
    """Delete the object it created, or restore the captured one."""
    target = undo_op(op, captured)
    kind = kind_of(target, captured)
    if captured.get("created"):
        return delete_created(target, kind, str(captured.get("uid") or ""))
    changed = fields.restore(target, kind, target.name, captured["fields"])
    what = target.target(kind)
    return Done(f"restored {what}" if changed else f"{what} was already as captured", {})


def preview(action: str, op: Op) -> Preview:
    """Server-side dry-run of the create or the apply; no-op when nothing would change."""
    manifest, kind = _target(op)
    current = _read(op, kind)
    if current is None:
        op.write("POST", kind, op.name, manifest, verb="create")
        return Preview(Verdict.WOULD_CHANGE, f"would create {op.target(kind)}")
    result = server_side_apply(op, kind, manifest, rv(current))
    if comparable(result) == comparable(current):
        return Preview(Verdict.NO_OP, f"{op.target(kind)} already matches the manifest")
    return Preview(Verdict.WOULD_CHANGE, f"would update {op.target(kind)}")


def _target(op: Op) -> tuple[dict[str, Any], kinds.Kind]:
    manifest = load_manifest(op.body, op.base_dir)
    kind = kinds.resolve(op.client, manifest["kind"], op.deadline, manifest["apiVersion"])
    meta = manifest["metadata"]
    if kind.namespaced:
        meta["namespace"] = meta.get("namespace") or op.body.get("namespace") or "default"
    op.body = {**op.body, "name": meta["name"], "namespace": meta.get("namespace")}
    check_names(op.body)
    return manifest, kind


def load_manifest(body: Mapping[str, Any], base_dir: Path) -> dict[str, Any]:
    """The one object of `manifest` (mapping or YAML text) or `file`."""
    raw = body.get("manifest")
    if raw is None:
        path = Path(str(body.get("file")))
        try:
            raw = read_regular_text(path if path.is_absolute() else base_dir / path)
        except (OSError, UnicodeDecodeError) as exc:
            raise ActionError(f"cannot read the manifest file: {exc}") from None
    documents = _documents(raw)
    if len(documents) != 1:
        raise ActionError(f"apply takes exactly one object; the manifest has {len(documents)}")
    manifest = documents[0]
    if not all(manifest.get(k) for k in ("apiVersion", "kind")) or not _name(manifest):
        raise ActionError("the manifest needs apiVersion, kind and metadata.name")
    return manifest


def _documents(raw: Any) -> list[dict[str, Any]]:
    if isinstance(raw, Mapping):
        return [dict(raw)]

    try:
        loaded = [d for d in load_documents("manifest", str(raw)) if d is not None]
    except InvalidPlaybook as exc:
        raise ActionError(f"the manifest is not valid YAML: {exc}") from None
    if not all(isinstance(d, dict) for d in loaded):
        raise ActionError("every manifest document must be a mapping")
    return loaded


def _name(manifest: Mapping[str, Any]) -> str:
    meta = manifest.get("metadata")
    return str(meta.get("name") or "") if isinstance(meta, Mapping) else ""


def _read(op: Op, kind: kinds.Kind) -> dict[str, Any] | None:
    try:
        return op.read(kind, op.name)
    except KubeError as exc:
        if exc.status == 404:
            return None
        raise


def server_side_apply(
    op: Op, kind: kinds.Kind, manifest: dict[str, Any], resource_version: str
) -> dict[str, Any]:
    body = {**manifest, "metadata": {**manifest["metadata"], "resourceVersion": resource_version}}
    query = {"fieldManager": FIELD_MANAGER, "force": "true"}
    return op.write(
        "PATCH", kind, op.name, body, verb="apply", content_type=APPLY_PATCH, query=query
    )


def comparable(obj: Mapping[str, Any]) -> dict[str, Any]:
    result = clean(obj)
    for key in IGNORED:
        result.get("metadata", {}).pop(key, None)
    return result


def delete_created(op: Op, kind: kinds.Kind, uid: str) -> Done:
    """Delete the object, but only the one this step created (precondition on its UID)."""
    body = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"}
    if uid:
        body["preconditions"] = {"uid": uid}  # type: ignore[assignment]
    try:
        op.write("DELETE", kind, op.name, body, verb="delete")
    except KubeError as exc:
        if exc.status != 404:
            raise
        return Done(f"{op.target(kind)} was already gone", {})
    return Done(f"deleted {op.target(kind)}, which the step had created", {})
