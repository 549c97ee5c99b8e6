"""`kubernetes` probe: a Deployment's available replicas, the Ready pods matching a
selector, or whether an object's condition is True.

    kubernetes: {namespace: shop, kind: Deployment, name: web, check: available_replicas}

The reading is the count (or 1/0 for a condition); healthy when it reaches `minimum`
(default: the desired replicas; 1 ready pod; condition True). The context comes from
the probe or the playbook's `kubernetes:` block, as for steps; the run's client for
that context (shared with its steps, kept across samples), every request within the
probe's deadline.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from engine.backends.kube.client import Deadline, KubeError
from engine.backends.kube.config import KubeConfigError, bind, playbook_defaults
from engine.backends.kube.kinds import KINDS
from engine.backends.kube.ops import ActionError, Op, check_names
from engine.backends.kube.read import listed
from engine.backends.kube.session import shared_client
from engine.core.rendering import Renderer
from engine.core.resources import Resources
from engine.sli.judge import Reading, SliVerdict
from engine.sli.registry import ProbeProblem
from engine.steps import kubectl

reads_number = False
command_fields: frozenset[str] = frozenset()
DEFAULT_TIMEOUT = 5.0


def read(
    spec: Mapping[str, Any],
    render: Renderer,
    numeric: bool,
    secrets: Mapping[str, str],
    resources: Resources,
    withheld_env: frozenset[str] = frozenset(),
) -> Reading:
    """One sample, through the run's client for the context (in `resources`); unreadable
    (no context, API error, timeout) is unknown, never healthy."""

    body = {key: render.value(value) for key, value in spec.items() if key != "context"}
    deadline = Deadline.after(DEFAULT_TIMEOUT)
    try:
        binding = bind(
            spec.get("context"), playbook_defaults(render, kubectl.block), render, Path.cwd()
        )
        check_names(body)
        client = shared_client(resources, binding)
    except (KubeConfigError, ActionError) as exc:
        return Reading.failed(str(exc))
    try:
        return _check(Op(client, body, deadline))
    except (KubeError, ActionError) as exc:
        return Reading.failed(str(exc))


def _check(op: Any) -> Reading:
    check = str(op.body.get("check") or "available_replicas")
    if check == "ready_pods":
        return _ready_pods(op)
    if check == "condition":
        return _condition(op)
    return _available(op)


def _available(op: Any) -> Reading:
    kind = op.kind("Deployment")
    obj = op.read(kind, op.name)
    desired = int(obj.get("spec", {}).get("replicas", 1))
    status = obj.get("status") or {}
    available = int(status.get("availableReplicas", status.get("readyReplicas", 0)) or 0)
    return _judge(available, _minimum(op, desired), f"{available}/{desired} available")


def _ready_pods(op: Any) -> Reading:
    pods = listed(op, KINDS["pod"])
    ready = sum(1 for pod in pods if _is_true(pod, "Ready"))
    return _judge(ready, _minimum(op, 1), f"{ready}/{len(pods)} pods ready")


def _condition(op: Any) -> Reading:
    wanted = str(op.body.get("condition") or "Ready")
    obj = op.read(op.kind(), op.name)
    value = 1 if _is_true(obj, wanted) else 0
    return _judge(value, 1, f"{wanted}={'True' if value else 'not True'}")


def _is_true(obj: Mapping[str, Any], condition: str) -> bool:
    entries = (obj.get("status") or {}).get("conditions") or []
    return any(c.get("type") == condition and c.get("status") == "True" for c in entries)


def _minimum(op: Any, default: int) -> int:
    given = op.body.get("minimum")
    return int(given) if given is not None else default


def _judge(value: int, minimum: int, detail: str) -> Reading:
    verdict = SliVerdict.HEALTHY if value >= minimum else SliVerdict.UNHEALTHY
    return Reading(float(value), verdict=verdict, detail=f"{detail} (healthy at ≥ {minimum})")


def problems(spec: Mapping[str, Any]) -> Iterator[ProbeProblem]:
    """Nothing beyond the schema."""
    return iter(())
