"""Capture and restore parts of an object: the undo of patch, apply and rollout.

A snapshot is JSON: a list of `[path, present, value]`, where `path` is a list of keys
(`["spec"]`, `["metadata", "labels"]`). Restoring writes the whole object back with
the resourceVersion it was read at, so a concurrent change gives a 409 (re-read and
re-applied), never a blind overwrite.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from engine.backends.kube.client import on_conflict
from engine.backends.kube.kinds import Kind
from engine.backends.kube.ops import Op

Snapshot = list[list[Any]]
META_PARTS = ("labels", "annotations", "finalizers", "ownerReferences")


def touched(patch: Any, patch_type: str) -> list[list[str]]:
    """The top-level parts of an object a patch can change (metadata one level deeper)."""
    if patch_type == "json":
        parts = [str(op.get("path", "")).lstrip("/").split("/") for op in patch]
        pointers = [[p.replace("~1", "/").replace("~0", "~") for p in part] for part in parts]
        return _unique(_cut(part) for part in pointers if part and part[0])
    if not isinstance(patch, Mapping):
        return []
    return _unique(_cut([key, *sub]) for key, sub in _keys(patch))


def _keys(patch: Mapping[str, Any]) -> Iterable[tuple[str, list[str]]]:
    for key, value in patch.items():
        if key == "metadata" and isinstance(value, Mapping):
            yield from ((key, [str(sub)]) for sub in value)
        else:
            yield str(key), []


def _cut(path: Sequence[str]) -> list[str]:
    if path[0] == "metadata":
        return list(path[:2]) if len(path) > 1 and path[1] in META_PARTS else []
    return [path[0]] if path[0] not in ("apiVersion", "kind", "status") else []


def _unique(paths: Iterable[list[str]]) -> list[list[str]]:
    result: list[list[str]] = []
    for path in paths:
        if path and path not in result:
            result.append(path)
    return result


def snapshot(obj: Mapping[str, Any], paths: Iterable[Sequence[str]]) -> Snapshot:
    """The current value of each path (and whether it is there at all)."""
    result: Snapshot = []
    for path in paths:
        parent = _parent(obj, path)
        present = isinstance(parent, Mapping) and path[-1] in parent
        value = copy.deepcopy(parent[path[-1]]) if present and parent is not None else None
        result.append([list(path), present, value])
    return result


def _parent(obj: Mapping[str, Any], path: Sequence[str]) -> Any:
    current: Any = obj
    for key in path[:-1]:
        current = current.get(key) if isinstance(current, Mapping) else None
    return current


def apply_snapshot(obj: Mapping[str, Any], saved: Snapshot) -> dict[str, Any]:
    """`obj` with every saved path put back as it was."""
    result = copy.deepcopy(dict(obj))
    for path, present, value in saved:
        parent: dict[str, Any] = result
        for key in path[:-1]:
            parent = parent.setdefault(key, {})
        if present:
            parent[path[-1]] = copy.deepcopy(value)
        else:
            parent.pop(path[-1], None)
    return result


def restore(op: Op, kind: Kind, name: str, saved: Snapshot, verb: str = "restore") -> bool:
    """Write the saved parts back (PUT with the read resourceVersion); False when the
    object already matched."""
    paths = [path for path, _, _ in saved]

    def attempt() -> bool:
        current = op.read(kind, name)
        if snapshot(current, paths) == saved:
            return False
        op.write("PUT", kind, name, apply_snapshot(current, saved), verb=verb)
        return True

    return on_conflict(attempt)


def all_parts(obj: Mapping[str, Any]) -> list[list[str]]:
    """Every part an `apply` may have changed: top-level fields and metadata parts."""
    top = [[key] for key in obj if key not in ("apiVersion", "kind", "metadata", "status")]
    return top + [["metadata", part] for part in META_PARTS]
