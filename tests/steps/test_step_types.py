"""What the engine knows of a step type comes from the type: every registered type has
the members of `StepType`, and the engine's decisions follow them, not the type's name."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from pathlib import Path

import pytest
from msgspec.structs import replace

from engine.model.playbook import Playbook
from engine.playbook.loader import load_playbook
from engine.run.execution import step_timeout
from engine.run.preflight import RunRequest, refusal
from engine.sli import conformance as probe_conformance
from engine.sli import registry as probe_registry
from engine.steps import conformance as step_conformance
from engine.steps.base import PlaybookHook, StepType
from engine.steps.registry import PLAYBOOK_HOOKS, STEP_TYPES, playbook_hooks, step_type

STAND_IN = "human_pause"  # registered by the test below only

PLAYBOOK = """\
apiVersion: runbook/v1
kind: Playbook
metadata: {name: pause, version: 1.0.0, owner: ops, maturity: 2}
steps:
  - id: pause
    wait: 1s
"""

PROTOCOL_METHODS = sorted(
    name
    for name, member in vars(StepType).items()
    if inspect.isfunction(member) and not name.startswith("_")
)


def _method_parameters(name: str, protocol: type = StepType) -> list[str]:
    return list(inspect.signature(getattr(protocol, name)).parameters)[1:]  # without self


@pytest.mark.parametrize("name", sorted(STEP_TYPES))
def test_every_registered_type_has_the_protocols_members(name: str) -> None:
    kind = step_type(name)
    assert isinstance(kind.needs_human, bool)
    assert kind.default_timeout is None or isinstance(kind.default_timeout, float)
    assert isinstance(kind.probed, bool)
    for method in PROTOCOL_METHODS:
        parameters = list(inspect.signature(getattr(kind, method)).parameters)
        assert parameters == _method_parameters(method), f"{name}.{method}"


def test_mypy_checks_every_registered_type_and_hook() -> None:
    assert set(step_conformance.CHECKED) == set(STEP_TYPES)
    assert set(step_conformance.HOOKS) == set(PLAYBOOK_HOOKS)
    assert set(probe_conformance.CHECKED) == set(probe_registry.PROBES)
    for name, module in step_conformance.CHECKED.items():
        assert step_type(name) is module


def test_the_protocol_names_what_the_engine_asks() -> None:
    assert {"capture_name", "expectation", "parse", "plan", "apply", "undo"} <= set(
        PROTOCOL_METHODS
    )
    assert {"needs_human", "default_timeout", "probed"} <= set(StepType.__annotations__)


def test_every_playbook_hook_is_a_registered_type_with_the_hooks_members() -> None:
    hooks = playbook_hooks()
    assert set(hooks) == {hook.block for hook in step_conformance.HOOKS.values()}
    assert set(PLAYBOOK_HOOKS) <= set(STEP_TYPES)
    methods = [
        name for name in vars(PlaybookHook) if inspect.isfunction(getattr(PlaybookHook, name))
    ]
    for block, hook in hooks.items():
        for method in (name for name in methods if not name.startswith("_")):
            parameters = list(inspect.signature(getattr(hook, method)).parameters)
            assert parameters == _method_parameters(method, PlaybookHook), f"{block}.{method}"


def test_the_playbook_model_holds_each_block_as_its_type_parsed_it(tmp_path: Path) -> None:
    file = tmp_path / "pause.yaml"
    file.write_text(PLAYBOOK + "kubernetes: {context: kind-a}\n")
    playbook = load_playbook(str(file))
    assert set(playbook.step_blocks) == set(playbook_hooks())
    assert playbook.step_blocks["kubernetes"] == playbook_hooks()["kubernetes"].parse_block(
        {"context": "kind-a"}
    )


@pytest.fixture
def human_pause(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A step type that needs a human, registered under a name the engine never heard of."""
    monkeypatch.setitem(STEP_TYPES, STAND_IN, "fakes.human_step")
    step_type.cache_clear()
    yield STAND_IN
    step_type.cache_clear()


def _pause_playbook(tmp_path: Path, kind: str) -> Playbook:
    file = tmp_path / "pause.yaml"
    file.write_text(PLAYBOOK)
    playbook = load_playbook(str(file))
    step = playbook.steps[0]
    return replace(playbook, steps=(replace(step, action=replace(step.action, type=kind)),))


def test_a_type_that_needs_a_human_is_refused_without_a_terminal(
    tmp_path: Path, human_pause: str
) -> None:
    playbook = _pause_playbook(tmp_path, human_pause)
    reason, hint = refusal(playbook, RunRequest(file=playbook.file))
    assert reason == "no terminal for the manual step(s): pause"
    assert hint == "run it from a terminal"


def test_a_type_that_needs_no_human_runs_without_a_terminal(tmp_path: Path) -> None:
    playbook = _pause_playbook(tmp_path, "wait")
    assert refusal(playbook, RunRequest(file=playbook.file)) == ("", "")


def test_an_undo_of_a_type_that_needs_a_human_is_refused_too(
    tmp_path: Path, human_pause: str
) -> None:
    playbook = _pause_playbook(tmp_path, "wait")
    step = playbook.steps[0]
    undo = replace(step.action, type=human_pause)
    playbook = replace(playbook, steps=(replace(step, undo=undo),))
    reason, _ = refusal(playbook, RunRequest(file=playbook.file))
    assert reason == "no terminal for the manual step(s): pause"


def test_a_step_without_timeout_gets_its_types_default(tmp_path: Path, human_pause: str) -> None:
    waiting = _pause_playbook(tmp_path, "wait").steps[0]
    assert step_timeout(waiting) == step_type("wait").default_timeout == 30 * 60.0
    assert step_timeout(replace(waiting, timeout=5.0)) == 5.0
    manual = _pause_playbook(tmp_path, "manual").steps[0]
    assert step_timeout(manual) is None
