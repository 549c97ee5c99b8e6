"""The `kubectl` step body: checked when the playbook is loaded, described for plans."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from msgspec import Struct

from engine.backends.kube.kinds import KINDS, ROLLABLE, SCALABLE, known
from engine.core.results import SpecError

READONLY = frozenset({"get", "logs", "wait"})
SELF_UNDOING = frozenset({"scale", "cordon", "uncordon", "drain", "patch", "apply", "label"})
SELF_UNDOING |= {"annotate", "rollout_restart", "rollout_undo", "export", "restore"}
NODE_ACTIONS = frozenset({"cordon", "uncordon", "drain"})
MODULES = {
    "get": "read", "logs": "read", "wait": "wait", "scale": "scale", "cordon": "node",
    "uncordon": "node", "drain": "node", "patch": "patch", "apply": "apply", "label": "meta",
    "annotate": "meta", "rollout_restart": "rollout", "rollout_undo": "rollout",
    "delete": "delete", "export": "export", "restore": "restore",
}  # fmt: skip
# The only keys export and restore take (the other actions' keys mean nothing to them).
ARCHIVE_KEYS = {
    "export": frozenset({"action", "context", "namespaces", "to", "kinds", "timestamped",
                         "capture", "timeout"}),
    "restore": frozenset({"action", "context", "from", "namespaces", "latest", "verify_only",
                          "capture", "timeout"}),
}  # fmt: skip
NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?\Z")
# Keys each action needs; a tuple means "one of these".
REQUIRED: dict[str, tuple[str | tuple[str, ...], ...]] = {
    "get": ("kind",), "logs": (("name", "selector"),),
    "wait": ("kind", ("name", "selector"), "condition"), "scale": ("kind", "name", "replicas"),
    "cordon": ("name",), "uncordon": ("name",), "drain": ("name",),
    "patch": ("kind", "name", "patch"), "apply": (("manifest", "file"),),
    "label": ("kind", "name", "labels"), "annotate": ("kind", "name", "annotations"),
    "rollout_restart": ("kind", "name"), "rollout_undo": ("kind", "name"),
    "delete": ("kind", ("name", "selector")), "export": ("namespaces", "to"),
    "restore": ("from",),
}  # fmt: skip


class KubeSpec(Struct, frozen=True):
    """One action, its body as written (templates unrendered)."""

    action: str
    body: Mapping[str, Any]

    @property
    def capture(self) -> str | None:
        """The `capture:` name, if any."""
        value = self.body.get("capture")
        return str(value) if value is not None else None

    @property
    def context(self) -> str | None:
        """The step's own context (a template), if any."""
        value = self.body.get("context")
        return str(value) if value else None

    @property
    def readonly(self) -> bool:
        """get, logs, wait and a restore that only verifies change nothing."""
        return self.action in READONLY or self.local

    @property
    def local(self) -> bool:
        """Needs no cluster: a restore with `verify_only: true` checks files only."""
        return self.action == "restore" and self.body.get("verify_only") is True


def parse_spec(body: Mapping[str, Any]) -> KubeSpec:
    """Check what a schema cannot: the keys an action needs, and kinds it can act on."""
    action = str(body.get("action", ""))
    if action in ARCHIVE_KEYS:
        _check_archive(action, body)
    for need in REQUIRED[action]:
        options = need if isinstance(need, tuple) else (need,)
        if not any(body.get(key) not in (None, "") for key in options):
            raise SpecError(f"kubectl {action} needs `{'` or `'.join(options)}`")
    if "manifest" in body and "file" in body:
        raise SpecError("give `manifest` or `file`, not both", field_name="file")
    _check_kind(action, body.get("kind"))
    return KubeSpec(action, dict(body))


def _check_archive(action: str, body: Mapping[str, Any]) -> None:
    """export / restore: their own keys only, namespaces and kinds that can be."""
    for key in body:
        if key not in ARCHIVE_KEYS[action]:
            hint = f"kubectl {action} takes: {', '.join(sorted(ARCHIVE_KEYS[action]))}"
            if key == "namespace":
                hint = "give `namespaces:` (a list), even for one namespace"
            raise SpecError(f"kubectl {action} does not take `{key}`", hint, key)
    namespaces = body.get("namespaces")
    if isinstance(namespaces, str):
        namespaces = [] if "{{" in namespaces else namespaces.split()
    for name in namespaces or []:
        if isinstance(name, str) and "{{" not in name and not NAMESPACE.match(name):
            hint = "a namespace name: lowercase letters, digits and '-'"
            raise SpecError(f"{name!r} is not a namespace name", hint, "namespaces")
    for kind in body.get("kinds") or []:
        _check_export_kind(kind)
    for key in ("to", "from"):
        if key in body and not str(body[key]).strip():
            raise SpecError(f"kubectl {action} needs a directory in `{key}`", field_name=key)


def _check_export_kind(kind: Any) -> None:
    if not isinstance(kind, str) or "{{" in kind:
        return
    entry = known(kind)
    if entry is None or not entry.namespaced or entry.kind in ("Namespace", "Event"):
        usable = sorted(k.kind for k in KINDS.values() if k.namespaced and k.kind != "Event")
        hint = "the Namespace itself is always exported; kinds: " + ", ".join(usable)
        raise SpecError(f"export cannot take kind {kind!r}", hint, "kinds")
    if entry.kind != kind:
        raise SpecError(f"kind {kind!r} is spelled {entry.kind!r}", field_name="kinds")


def _check_kind(action: str, kind: Any) -> None:
    if not isinstance(kind, str) or "{{" in kind:
        return  # a template: checked when it runs
    allowed = _allowed(action)
    if allowed and kind not in allowed:
        hint = f"kubectl {action} acts on: {', '.join(sorted(allowed))}"
        raise SpecError(f"kubectl {action} cannot act on a {kind}", hint, "kind")
    if kind.lower() not in KINDS:
        hint = "known kinds: " + ", ".join(sorted(k.kind for k in KINDS.values()))
        raise SpecError(f"unknown kind {kind!r}", hint, "kind")


def _allowed(action: str) -> frozenset[str]:
    if action == "scale":
        return SCALABLE
    if action in NODE_ACTIONS:
        return frozenset({"Node"})
    if action == "rollout_undo":
        return frozenset({"Deployment"})
    return ROLLABLE if action == "rollout_restart" else frozenset()


def describe(action: str, body: Mapping[str, Any], context: str) -> str:
    """A kubectl-like line for plans and the ledger (what the step does, not run)."""
    parts = ["kubectl", action.replace("_", " ")]
    if not (action == "restore" and body.get("verify_only") is True):
        parts.append(f"--context={context}")
    if body.get("kind") or action in NODE_ACTIONS:
        parts.append(
            str(body.get("kind") or "Node") + (f"/{body['name']}" if body.get("name") else "")
        )
    if body.get("namespace"):
        parts.append(f"-n {body['namespace']}")
    skip = {"action", "context", "kind", "name", "namespace", "capture"}
    for key, value in body.items():
        if key not in skip:
            shown = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
            parts.append(f"--{key.replace('_', '-')}={_short(str(shown))}")
    return " ".join(parts)


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
