"""Before step 1: the refusals that keep a playbook off the wrong cluster.

* a Kubernetes step (or undo, or an SLI probe that reads the block's defaults) whose
  context is not in the kubeconfig, or that has no context at all where none is current
  (a step that needs no cluster, a `restore` with `verify_only`, is not checked);
* at level 3, one that names no context (the current-context is never used there);
* a pinned `cluster_uid` that is not the UID of the context's cluster (one read).

Only a pinned cluster_uid needs the network; the rest reads the kubeconfig. The step
types and the block are the kubectl hook's (`KubeNames`): a backend names none.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import Any, NamedTuple

from engine.backends.kube.client import Deadline, KubeError
from engine.backends.kube.config import (
    Binding,
    KubeConfigError,
    KubernetesDefaults,
    bind,
    defaults_for,
    playbook_defaults,
)
from engine.backends.kube.session import client_for
from engine.core.rendering import Renderer
from engine.core.resources import Resources
from engine.model.playbook import Action, Playbook, Step
from engine.templating.render import RenderError, TemplateRenderer

PREFLIGHT_SECONDS = 10.0


class KubeNames(NamedTuple):
    """What the kubectl hook calls its parts of a playbook."""

    # The step types that act on a cluster.
    step_types: AbstractSet[str]
    # The playbook's top-level block of defaults (also the run variables' key); an SLI
    # probe whose model names it reads a cluster too.
    block: str


def kube_contexts(playbook: Playbook, names: KubeNames) -> Iterator[tuple[str, str | None]]:
    """(where, the context it names or None) for every Kubernetes step, undo and probe."""
    for step in playbook.steps:
        for label, action in (("step", step.action), ("undo of", step.undo)):
            if action is not None and action.type in names.step_types and not _local(action):
                yield f"{label} {step.id}", _context(action)
    sli = playbook.sli
    if sli is not None and sli.probe.block == names.block:
        yield f"the {sli.probe.type} SLI probe", sli.probe.spec.get("context") or None


def _local(action: Action) -> bool:
    """A step that needs no cluster (a restore that only verifies its files)."""
    return bool(getattr(action.spec, "local", False))


def _context(action: Action) -> str | None:
    spec = action.spec
    return getattr(spec, "context", None) if spec is not None else None


def refusal(playbook: Playbook, variables: Mapping[str, Any], names: KubeNames) -> tuple[str, str]:
    """Why this run must not start, with a hint; ("", "") when it may."""

    render = TemplateRenderer(variables)
    defaults = playbook_defaults(render, names.block)
    base_dir = Path(playbook.file).resolve().parent
    bindings: dict[str, Binding] = {}
    for where, context in kube_contexts(playbook, names):
        if playbook.metadata.maturity == 3 and not (context or defaults.get("context")):
            hint = f"set `context:` on the step or under the playbook's `{names.block}:`"
            return f"{where} names no kubeconfig context; level 3 never uses the current one", hint
        try:
            binding = _bind(context, defaults, render, base_dir)
        except KubeConfigError as exc:
            return f"{where}: {exc}", exc.hint
        if binding is not None:
            bindings[binding.key] = binding
    return _pinned_refusal(bindings.values())


def _bind(
    context: str | None, defaults: Mapping[str, Any], render: Renderer, base_dir: Path
) -> Binding | None:
    """The binding, or None when the context depends on what the run will capture."""

    try:
        return bind(context, defaults, render, base_dir)
    except RenderError:
        return None


def _pinned_refusal(bindings: Any) -> tuple[str, str]:
    pinned = [b for b in bindings if b.cluster_uid]
    if not pinned:
        return "", ""

    resources = Resources()
    try:
        for binding in pinned:
            client_for(resources, binding, Deadline.after(PREFLIGHT_SECONDS))
    except KubeConfigError as exc:
        return str(exc), exc.hint
    except KubeError as exc:
        return f"cannot check the pinned cluster_uid: {exc}", "is the cluster reachable?"
    finally:
        resources.close_all()
    return "", ""


def defaults_of(playbook: Playbook, block: str) -> KubernetesDefaults:
    """The playbook's `kubernetes:` block (all unset when it has none)."""
    found = playbook.step_blocks.get(block)
    return found if isinstance(found, KubernetesDefaults) else KubernetesDefaults()


def contextless(steps: Iterable[Step], playbook: Playbook, names: KubeNames) -> list[Step]:
    """Kubernetes steps that name no context, in a playbook that names none either
    (the validator's level-3 rule)."""
    if defaults_of(playbook, names.block).context:
        return []
    kube = [s for s in steps if s.action.type in names.step_types and not _local(s.action)]
    return [s for s in kube if not _context(s.action)]


def defaults_mapping(playbook: Playbook, environ: Mapping[str, str], block: str) -> dict[str, Any]:
    """What preflight adds to the run variables as `playbook.kubernetes`."""

    defaults = defaults_of(playbook, block)
    return defaults_for(defaults, environ, Path(playbook.file).resolve().parent)
