"""`get` (objects, or some of their fields) and `logs` (the tail of pods' logs).
Read-only: nothing to undo."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from engine.backends.kube.kinds import Kind, known
from engine.backends.kube.ops import ActionError, Done, Op, Preview, dig
from engine.core.results import Verdict

POD = known("Pod")


def apply(action: str, op: Op) -> Done:
    """The objects (or fields) for `get`; the log text for `logs`."""
    return _logs(op) if action == "logs" else _get(op)


def undo(action: str, op: Op, captured: Mapping[str, Any]) -> Done:
    """Read-only: nothing to undo."""
    return Done(f"{action} is read-only: nothing to undo")


def preview(action: str, op: Op) -> Preview:
    """Read-only: always a no-op."""
    return Preview(Verdict.NO_OP, "read-only")


def _get(op: Op) -> Done:
    kind = op.kind()
    wanted = [str(f) for f in op.body.get("fields") or []]
    if op.name:
        value: Any = _pick(op.read(kind, op.name), wanted, kind.kind)
        count = 1
    else:
        items = listed(op, kind)
        value, count = [_pick(item, wanted, kind.kind) for item in items], len(items)
    text = json.dumps(value, indent=2, sort_keys=True, default=str)
    return Done(f"got {count} {kind.kind}(s)", {}, value, False, text)


def listed(op: Op, kind: Kind) -> list[dict[str, Any]]:
    """Objects of `kind` in the namespace, filtered by the step's `selector`."""
    query = {"labelSelector": str(op.body["selector"])} if op.body.get("selector") else {}
    found = op.client.call(
        "GET", kind.path(op.namespace), op.deadline, verb="list",
        target=kind.describe(op.namespace, None), query=query,
    )  # fmt: skip
    return list(found.get("items", []))


def _pick(obj: dict[str, Any], wanted: list[str], kind: str) -> Any:
    """The asked-for fields, or the object (a Secret without its data: what is captured
    lands in the ledger)."""
    if not wanted:
        obj.get("metadata", {}).pop("managedFields", None)
        if kind == "Secret":
            obj = {k: v for k, v in obj.items() if k not in ("data", "stringData")}
        return obj
    return {path: dig(obj, path) for path in wanted}


def _logs(op: Op) -> Done:
    assert POD is not None
    names = [op.name] if op.name else [p["metadata"]["name"] for p in listed(op, POD)]
    if not names:
        raise ActionError(f"no pods match {op.body.get('selector')!r} in {op.namespace}")
    logs = {name: _tail(op, POD, name) for name in names}
    if len(logs) == 1:
        text = next(iter(logs.values()))
        return Done(f"read the log of pod {names[0]}", {}, text, False, text)
    text = "\n".join(f"==> {name} <==\n{log}" for name, log in logs.items())
    return Done(f"read the logs of {len(logs)} pods", {}, logs, False, text)


def _tail(op: Op, kind: Kind, name: str) -> str:
    query: dict[str, Any] = {"tailLines": int(op.body.get("tail_lines") or 100)}
    if op.body.get("container"):
        query["container"] = str(op.body["container"])
    found = op.client.call(
        "GET", kind.path(op.namespace, name, "log"), op.deadline, verb="logs",
        target=f"Pod {op.namespace}/{name}", query=query,
    )  # fmt: skip
    return found if isinstance(found, str) else json.dumps(found)
