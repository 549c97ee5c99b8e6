"""Running one step in-process exactly as the runner does (parse → apply/plan/undo with a
StepContext over run variables), small playbooks for whole runs, and process checks —
shared by the minikube, Docker Desktop and playbook tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def step_context(timeout: float | None = 30, **variables: Any) -> Any:
    """A StepContext like the runner's, with these run variables (inputs, steps…)."""
    from engine.core.resources import Resources
    from engine.steps.base import StepContext
    from engine.templating.render import TemplateRenderer
    from engine.ui.operator import HeadlessOperator

    names = ("inputs", "secrets", "run", "playbook", "alert", "captures", "steps")
    mapping = {name: variables.get(name, {}) for name in names}
    return StepContext(
        step_id="test",
        render=TemplateRenderer(mapping),
        operator=HeadlessOperator(assume_yes=False),
        resources=Resources(),
        base_dir=Path.cwd(),
        timeout=timeout,
    )


def apply_step(
    kind: str, body: dict[str, Any], timeout: float | None = 30, **variables: Any
) -> Any:
    """Parse one step body of type `kind` and run it in-process, as the runner does."""
    from engine.core.findings import Location
    from engine.steps.registry import step_type

    module = step_type(kind)
    return module.apply(
        module.parse(body, Location("test.yaml")), step_context(timeout, **variables)
    )


def undo_step(
    kind: str, body: dict[str, Any], captured: dict[str, Any], timeout: float = 30
) -> Any:
    from engine.core.findings import Location
    from engine.steps.registry import step_type

    module = step_type(kind)
    return module.undo(module.parse(body, Location("test.yaml")), captured, step_context(timeout))


def plan_step(kind: str, body: dict[str, Any], **variables: Any) -> Any:
    from engine.core.findings import Location
    from engine.steps.registry import step_type

    module = step_type(kind)
    return module.plan(module.parse(body, Location("test.yaml")), step_context(**variables))


PLAYBOOK_HEAD = (
    "apiVersion: runbook/v1\nkind: Playbook\n"
    "metadata: {{name: {name}, version: {version}, maturity: 2, owner: tests}}\n"
)


def write_playbook(
    tmp: Path, steps: str, name: str = "localstack-test", extra: str = "", version: str = "1.0.0"
) -> Path:
    """A level-2 playbook with these steps (YAML text under `steps:`), at `version`."""
    path = tmp / f"{name}.yaml"
    head = PLAYBOOK_HEAD.format(name=name, version=version)
    path.write_text(head + extra + "steps:\n" + steps)
    return path


def process_gone(pid: int) -> bool:
    """The process has exited (a zombie awaiting its reaper counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"
