"""Which cluster a Kubernetes step talks to: kubeconfig, context, and the guards.

Reads kubeconfig files with PyYAML only (no `kubernetes` import), so that preflight
can refuse a run whose context does not exist before anything runs or connects.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from msgspec import Struct

from engine.core.private_files import UnsafePathError, check_trusted_file
from engine.core.regular_file import read_regular_text
from engine.core.rendering import Renderer

CONTEXT_HINT = "name a context of your kubeconfig: `kubectl config get-contexts`"


class KubeConfigError(Exception):
    """The kubeconfig or context cannot be used; `hint` says what to do."""

    def __init__(self, message: str, hint: str = CONTEXT_HINT) -> None:
        super().__init__(message)
        self.hint = hint


class KubernetesDefaults(Struct, frozen=True):
    """`kubernetes:`: the context (and cluster) every Kubernetes step uses."""

    context: str | None = None
    cluster_uid: str | None = None
    kubeconfig: str | None = None


class Binding(Struct, frozen=True):
    """The kubeconfig file(s) and context one step uses, and the pinned cluster UID."""

    kubeconfig: str
    context: str
    explicit: bool
    cluster_uid: str | None = None

    @property
    def key(self) -> str:
        """The Resources key: one client per kubeconfig and context."""
        return f"kube:{self.kubeconfig}:{self.context}"


def defaults_for(
    kubernetes: KubernetesDefaults, environ: Mapping[str, str], base_dir: Path
) -> dict[str, Any]:
    """The playbook-level `kubernetes:` block as run variables (`playbook.kubernetes`),
    with the kubeconfig the environment names (KUBECONFIG, else ~/.kube/config) and the
    folder a relative `kubeconfig:` is relative to (the playbook's)."""
    home = environ.get("HOME") or str(Path.home())
    return {
        "context": kubernetes.context,
        "cluster_uid": kubernetes.cluster_uid,
        "kubeconfig": kubernetes.kubeconfig,
        "env_kubeconfig": environ.get("KUBECONFIG") or str(Path(home) / ".kube" / "config"),
        "base_dir": str(base_dir),
    }


def playbook_defaults(render: Renderer, block: str) -> Mapping[str, Any]:
    """`playbook.<block>` of the run variables (the block of defaults the kubectl hook
    put there: `playbook.kubernetes`), or {} outside a prepared run."""
    variables = getattr(render, "variables", None) or {}
    playbook = variables.get("playbook") or {}
    found = playbook.get(block) if isinstance(playbook, Mapping) else None
    return found if isinstance(found, Mapping) else {}


def kubeconfig_of(defaults: Mapping[str, Any], render: Renderer, base_dir: Path) -> str:
    """The kubeconfig path list (os.pathsep-separated), absolute."""
    configured = defaults.get("kubeconfig")
    if configured:
        path = Path(os.path.expanduser(render.text(str(configured))))
        folder = Path(defaults.get("base_dir") or base_dir)
        return str(path if path.is_absolute() else folder / path)
    return str(defaults.get("env_kubeconfig") or Path.home() / ".kube" / "config")


def bind(
    step_context: str | None, defaults: Mapping[str, Any], render: Renderer, base_dir: Path
) -> Binding:
    """Resolve a step's context (step, else playbook, else the kubeconfig's
    current-context); KubeConfigError when the kubeconfig has no such context.
    No network access."""
    wanted = step_context or defaults.get("context")
    name = render.text(str(wanted)) if wanted else ""
    uid = defaults.get("cluster_uid")
    pinned = render.text(str(uid)) if uid else None
    return _checked(kubeconfig_of(defaults, render, base_dir), name, pinned)


def rebind(
    context: str, cluster_uid: str | None, defaults: Mapping[str, Any], render: Renderer,
    base_dir: Path,
) -> Binding:  # fmt: skip
    """The binding of a recorded context (an undo): the name is data, never rendered."""
    return _checked(kubeconfig_of(defaults, render, base_dir), context, cluster_uid or None)


def _checked(kubeconfig: str, name: str, cluster_uid: str | None) -> Binding:
    contexts, current = read_contexts(kubeconfig)
    explicit = bool(name)
    name = name or current
    if not name:
        message = f"no context given and the kubeconfig ({kubeconfig}) has no current-context"
        raise KubeConfigError(message)
    if name not in contexts:
        known = ", ".join(sorted(contexts)) or "none"
        raise KubeConfigError(
            f"context {name!r} is not in the kubeconfig ({kubeconfig}; contexts: {known})"
        )
    return Binding(kubeconfig, name, explicit, cluster_uid)


def read_contexts(kubeconfig: str) -> tuple[set[str], str]:
    """Context names and the current-context of the kubeconfig file list (first file
    that sets a value wins, as kubectl merges them)."""
    names: set[str] = set()
    current = ""
    for path in _existing(kubeconfig.split(os.pathsep)):
        data = _load(path)
        names |= {str(c.get("name")) for c in data.get("contexts") or [] if isinstance(c, dict)}
        current = current or str(data.get("current-context") or "")
    return names, current


def _existing(paths: Iterable[str]) -> list[Path]:
    return [Path(p) for p in paths if p and Path(p).is_file()]


def _load(path: Path) -> dict[str, Any]:
    import yaml  # pyyaml is loaded only where YAML is read (a compiled playbook needs none)

    _refuse_unless_trusted(path)
    try:
        data = yaml.safe_load(read_regular_text(path))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise KubeConfigError(f"cannot read kubeconfig {path}: {exc}", "fix the file") from None
    return data if isinstance(data, dict) else {}


def _refuse_unless_trusted(path: Path) -> None:
    """A kubeconfig chooses the API server and may name a credential plugin that the
    client executes: one that others could have written is not read."""

    try:
        check_trusted_file(path)
    except UnsafePathError as exc:
        raise KubeConfigError(f"kubeconfig {path}: {exc.message}", exc.hint) from None
