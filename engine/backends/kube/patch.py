"""`patch`: a strategic-merge, merge or JSON patch; undo restores the captured parts of
the object (the whole `spec` when the patch touched the spec) exactly as they were."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from engine.backends.kube import fields
from engine.backends.kube.client import on_conflict
from engine.backends.kube.kinds import Kind
from engine.backends.kube.ops import (
    JSON_PATCH,
    MERGE,
    STRATEGIC,
    ActionError,
    Done,
    Op,
    Preview,
    kind_of,
    rv,
    undo_op,
)
from engine.core.errors import InvalidPlaybook
from engine.core.results import Verdict
from engine.model.yamlsource import load_documents

CONTENT_TYPES = {"strategic": STRATEGIC, "merge": MERGE, "json": JSON_PATCH}


def apply(action: str, op: Op) -> Done:
    """Patch the object, guarded by the resourceVersion at which its parts were captured."""
    kind = op.kind()
    before, after = _patch(op, kind)
    changed = before != after
    verb = "patched" if changed else "patch changed nothing on"
    return Done(f"{verb} {op.target(kind)}", op.captured, {"changed": changed}, changed)


def undo(action: str, op: Op, captured: Mapping[str, Any]) -> Done:
    """Restore the captured parts (PUT with the current resourceVersion)."""
    target = undo_op(op, captured)
    kind = kind_of(target, captured)
    changed = fields.restore(target, kind, target.name, captured["fields"])
    what = target.target(kind)
    return Done(f"restored {what}" if changed else f"{what} was already as captured", {})


def preview(action: str, op: Op) -> Preview:
    """Server-side dry-run: no-op when the patched parts would come out the same."""
    before, after = _patch(op, op.kind())
    if before == after:
        return Preview(Verdict.NO_OP, "the object already matches the patch")
    return Preview(Verdict.WOULD_CHANGE, "server-side dry-run accepted the patch")


def _patch(op: Op, kind: Kind) -> tuple[fields.Snapshot, fields.Snapshot]:
    patch_type, patch = patch_of(op.body)
    paths = fields.touched(patch, patch_type)

    def attempt() -> tuple[fields.Snapshot, fields.Snapshot]:
        current = op.read(kind, op.name)
        op.captured.update(op.identity(kind), fields=fields.snapshot(current, paths))
        body = guarded(patch, patch_type, rv(current))
        result = op.write(
            "PATCH", kind, op.name, body, verb="patch", content_type=CONTENT_TYPES[patch_type]
        )
        return fields.snapshot(current, paths), fields.snapshot(result, paths)

    return on_conflict(attempt)


def patch_of(body: Mapping[str, Any]) -> tuple[str, Any]:
    """(patch type, patch body); a string patch is parsed as YAML (or JSON)."""
    patch = body.get("patch")
    if isinstance(patch, str):
        patch = _parsed(patch)
    patch_type = str(body.get("patch_type") or ("json" if isinstance(patch, list) else "strategic"))
    if (patch_type == "json") != isinstance(patch, list) or not patch:
        raise ActionError(f"a {patch_type} patch must be a non-empty {_shape(patch_type)}")
    return patch_type, patch


def _parsed(text: str) -> Any:
    """A patch string's data, read as playbooks are (no YAML 1.1 `yes`, no NaN)."""

    try:
        documents = load_documents("patch", text)
    except InvalidPlaybook as exc:
        raise ActionError(f"the patch is not valid YAML or JSON: {exc}") from None
    if len(documents) > 1:
        raise ActionError(f"the patch is one YAML document; this one has {len(documents)}")
    return documents[0] if documents else None


def _shape(patch_type: str) -> str:
    return "list of operations" if patch_type == "json" else "mapping"


def guarded(patch: Any, patch_type: str, resource_version: str) -> Any:
    """The patch made conditional on `resource_version`: 409 if the object moved on."""
    if patch_type == "json":
        test = {"op": "replace", "path": "/metadata/resourceVersion", "value": resource_version}
        return [test, *patch]
    result = copy.deepcopy(patch)
    result.setdefault("metadata", {})["resourceVersion"] = resource_version
    return result
