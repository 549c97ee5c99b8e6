"""What an action module gets (`Op`) and gives back (`Done`, `Preview`)."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from msgspec import Struct, field

from engine.backends.kube import kinds
from engine.backends.kube.client import JSON, Deadline, KubeClient
from engine.core.results import Verdict

MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
FIELD_MANAGER = "runbook-engine"
SERVER_FIELDS: tuple[str, ...] = ("resourceVersion", "uid", "creationTimestamp")
SERVER_FIELDS += ("generation", "managedFields", "selfLink")
NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?\Z")  # DNS-1123 subdomain
NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?\Z")  # DNS-1123 label


class ActionError(Exception):
    """An action that cannot go on (not an HTTP failure): a bad value, a blocked drain,
    a condition not met in time (`timed_out`)."""

    def __init__(self, message: str, timed_out: bool = False) -> None:
        super().__init__(message)
        self.timed_out = timed_out


def check_names(body: Mapping[str, Any]) -> None:
    """Names become URL path segments: refuse anything that is not a Kubernetes name."""
    for key, pattern in (("name", NAME), ("namespace", NAMESPACE)):
        value = body.get(key)
        if value is not None and not pattern.match(str(value)):
            raise ActionError(f"{key} {str(value)!r} is not a valid Kubernetes {key}")


class Done(Struct):
    """A finished action: a one-line message, the undo state, what `capture:` stores."""

    message: str
    captured: dict[str, Any] = field(default_factory=dict)
    value: Any = None
    changed: bool | None = None
    output: str = ""


class Preview(Struct, frozen=True):
    """What a server-side dry-run said about an action."""

    verdict: Verdict
    note: str = ""


class Op(Struct):
    """One action on one context: the rendered step body, the client and the deadline.
    `captured` is filled before anything changes, so it survives a failure."""

    client: KubeClient
    body: Mapping[str, Any]
    deadline: Deadline
    base_dir: Path = Path()
    captured: dict[str, Any] = field(default_factory=dict)
    dry_run: bool = False

    @property
    def name(self) -> str:
        """The object's name from the step body ("" when it selects)."""
        return str(self.body.get("name") or "")

    @property
    def namespace(self) -> str:
        """The step's namespace, `default` when it names none."""
        return str(self.body.get("namespace") or "default")

    def kind(self, default: str = "") -> kinds.Kind:
        """The step's kind resolved against the server (`default` when unnamed)."""
        return kinds.resolve(self.client, str(self.body.get("kind") or default), self.deadline)

    def target(self, kind: kinds.Kind, name: str | None = None) -> str:
        """How messages name the object."""
        return kind.describe(self.namespace, name if name is not None else self.name)

    def identity(self, kind: kinds.Kind, name: str | None = None) -> dict[str, Any]:
        """The object an undo must act on, recorded with the undo state."""
        namespace = self.namespace if kind.namespaced else None
        return {"kind": kind.kind, "api_version": kind.api_version, "namespace": namespace,
                "name": name if name is not None else self.name}  # fmt: skip

    def read(self, kind: kinds.Kind, name: str, sub: str = "") -> dict[str, Any]:
        """GET the object (or a subresource)."""
        path = kind.path(self.namespace, name, sub)
        found: dict[str, Any] = self.client.call(
            "GET", path, self.deadline, verb="get", target=self.target(kind, name)
        )
        return found

    def write(
        self, method: str, kind: kinds.Kind, name: str, body: Any, *, verb: str, sub: str = "",
        content_type: str = JSON, query: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        """A mutation; a server-side dry-run (dryRun=All) when `self.dry_run`."""
        params = dict(query or {})
        if self.dry_run:
            params["dryRun"] = "All"
        path = kind.path(self.namespace, name if method != "POST" else None, sub)
        found: dict[str, Any] = self.client.call(
            method, path, self.deadline, verb=verb, target=self.target(kind, name),
            query=params, body=body, content_type=content_type,
        )  # fmt: skip
        return found


def kind_of(op: Op, captured: Mapping[str, Any]) -> kinds.Kind:
    """The Kind an undo acts on, from the identity recorded with the undo state."""
    return kinds.resolve(
        op.client, str(captured["kind"]), op.deadline, str(captured.get("api_version", ""))
    )


def undo_op(op: Op, captured: Mapping[str, Any]) -> Op:
    """An Op addressing the recorded object (its namespace and name)."""
    body = {**op.body, "namespace": captured.get("namespace"), "name": captured.get("name")}
    return Op(op.client, body, op.deadline, op.base_dir, dict(captured), op.dry_run)


def clean(obj: Mapping[str, Any]) -> dict[str, Any]:
    """An object without status and server-set metadata (what a restore writes back)."""
    result = copy.deepcopy(dict(obj))
    result.pop("status", None)
    meta = result.get("metadata", {})
    for key in SERVER_FIELDS:
        meta.pop(key, None)
    return result


def dig(obj: Any, path: str) -> Any:
    """`a.b.c` (or a.0.b for lists) of a JSON object; None when absent."""
    current = obj
    for part in path.split("."):
        if isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        elif isinstance(current, dict):
            current = current.get(part)
        else:
            return None
    return current


def rv(obj: Mapping[str, Any]) -> str:
    """An object's resourceVersion."""
    return str(obj.get("metadata", {}).get("resourceVersion", ""))
