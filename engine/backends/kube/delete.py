"""`delete`: objects by name or label selector. Irreversible by nature: it captures
nothing, and the playbook must say `irreversible: <reason>` (the validator insists)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.backends.kube.client import KubeError
from engine.backends.kube.kinds import Kind
from engine.backends.kube.ops import ActionError, Done, Op, Preview
from engine.core.results import Verdict

IRREVERSIBLE = "delete is irreversible by nature"


def apply(action: str, op: Op) -> Done:
    """Delete every named or selected object; says which."""
    kind = op.kind()
    deleted = [name for name in _names(op, kind) if _delete(op, kind, name)]
    what = ", ".join(deleted) or "nothing (none found)"
    message = f"deleted {kind.kind} {what} in {op.namespace}; {IRREVERSIBLE}"
    return Done(message, {}, {"deleted": deleted}, bool(deleted), "\n".join(deleted))


def undo(action: str, op: Op, captured: Mapping[str, Any]) -> Done:
    """There is none: a deleted object is gone."""
    raise ActionError(IRREVERSIBLE)


def preview(action: str, op: Op) -> Preview:
    """Server-side dry-run of each deletion; no-op when nothing matches."""
    kind = op.kind()
    names = [name for name in _names(op, kind) if _delete(op, kind, name)]
    if not names:
        return Preview(Verdict.NO_OP, "nothing to delete")
    return Preview(Verdict.WOULD_CHANGE, f"would delete {', '.join(names)}; {IRREVERSIBLE}")


def _names(op: Op, kind: Kind) -> list[str]:
    if op.name:
        return [op.name]
    selector = str(op.body.get("selector") or "")
    if not selector:
        raise ActionError("delete needs a name or a selector")
    found = op.client.call(
        "GET", kind.path(op.namespace), op.deadline, verb="list",
        target=f"{kind.kind}s matching {selector!r}", query={"labelSelector": selector},
    )  # fmt: skip
    return [str(item["metadata"]["name"]) for item in found.get("items", [])]


def _delete(op: Op, kind: Kind, name: str) -> bool:
    body: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1"}
    if op.body.get("grace_period") is not None:
        body["gracePeriodSeconds"] = int(op.body["grace_period"])
    try:
        op.write("DELETE", kind, name, body, verb="delete")
    except KubeError as exc:
        if exc.status == 404:
            return False
        raise
    return True
