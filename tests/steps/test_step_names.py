"""Nothing outside `engine/steps/` and `engine/sli/` tells step types or probes apart by
name: it asks the step type (`StepType`, `PlaybookHook`) or the probe (`Probe`) instead.

The scan looks for the names where code decides by them: comparisons (`==`, `in` a
tuple or set), dict keys and values, `.get(...)` and subscripts, the tuples a loop
walks, and sets. A few files use the same words for something else
(the kubectl action `wait`, the program `ssh`); they are listed with what the word is.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from engine.backends.kube.guard import kube_contexts
from engine.playbook.commands import is_command, is_stdin
from engine.playbook.loader import load_playbook
from engine.sli.registry import PROBES
from engine.steps import kubectl
from engine.steps.registry import STEP_TYPES

ENGINE = Path(__file__).resolve().parents[2] / "engine"
OWNERS = ("steps", "sli")  # the layers that may name their own types
NAMES = frozenset(STEP_TYPES) | frozenset(PROBES)

# (file under engine/, name): what the word means there.
OTHER_MEANINGS = {
    ("backends/kube/spec.py", "wait"): "the kubectl action `wait`",
    ("backends/localstack/minikube_actions.py", "ssh"): "the minikube action `ssh`",
    ("backends/localstack/minikube_argv.py", "ssh"): "the minikube action `ssh`",
    ("core/shellsyntax.py", "ssh"): "the program `ssh` in a command line",
    ("ui/display.py", "command"): "an event's field `command`",
    ("modes/run_record.py", "command"): "an event's field `command`",
    ("modes/bundle/manifest.py", "command"): "an event's field `command`",
    ("hooks/escalation.py", "command"): "an escalation's `command:` (argv to notify a human)",
    ("playbook/wiki.py", "shell"): "a Markdown code block's language `shell`",
}

BAD_SAMPLE = """
KUBE_TYPES = frozenset({"kubectl"})
BLOCKS = {"kubernetes": "kubectl"}
OWNERS = {"run": ("shell", "ssh")}

def f(action, probe, data, step):
    if action.type == "kubectl":
        pass
    if probe.type in ("prometheus", "http"):
        pass
    for key in ("targets", "minikube"):
        pass
    data.get("docker_desktop")
    step["manual"]
    return "wait" != action.type, step.kind in {"command"}
"""


def names_decided_on(source: str) -> Iterator[tuple[int, str]]:
    """(line, name) of each step-type or probe name the code decides by."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        for place in _places(node):
            for constant in _constants(place):
                yield constant.lineno, constant.value


def _places(node: ast.AST) -> list[ast.AST]:
    """The expressions of `node` where a name would be a decision."""
    if isinstance(node, ast.Compare):
        return [node.left, *node.comparators]
    if isinstance(node, ast.Dict):
        return [part for part in (*node.keys, *node.values) if part is not None]
    if isinstance(node, ast.Set):
        return list(node.elts)
    if isinstance(node, ast.For | ast.comprehension):
        return [node.iter]
    if isinstance(node, ast.Subscript):
        return [node.slice]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return node.args[:1] if node.func.attr == "get" else []
    return []


def _constants(node: ast.AST) -> list[ast.Constant]:
    """The name constants of `node` itself, or of the tuple, list or set it is."""
    items = node.elts if isinstance(node, ast.Tuple | ast.List | ast.Set) else [node]
    return [item for item in items if isinstance(item, ast.Constant) and item.value in NAMES]


def _engine_files() -> Iterator[tuple[str, Path]]:
    for path in sorted(ENGINE.rglob("*.py")):
        relative = path.relative_to(ENGINE).as_posix()
        if relative.split("/")[0] not in OWNERS:
            yield relative, path


def test_the_scan_finds_every_way_of_naming_a_type() -> None:
    found = sorted(set(names_decided_on(BAD_SAMPLE)))
    assert found == [
        (2, "kubectl"),
        (3, "kubectl"),
        (3, "kubernetes"),
        (4, "shell"),
        (4, "ssh"),
        (7, "kubectl"),
        (9, "http"),
        (9, "prometheus"),
        (11, "minikube"),
        (13, "docker_desktop"),
        (14, "manual"),
        (15, "command"),
        (15, "wait"),
    ]


def test_the_scan_passes_names_in_messages_and_other_words() -> None:
    source = 'hint = f"run `kubectl {verb}`"\nlog("ssh failed")\nif kind == "shellish": pass\n'
    assert list(names_decided_on(source)) == []


def test_no_module_outside_steps_and_sli_names_a_step_type_or_probe() -> None:
    found = [
        f"engine/{relative}:{line}: {name!r}"
        for relative, path in _engine_files()
        for line, name in names_decided_on(path.read_text())
        if (relative, name) not in OTHER_MEANINGS
    ]
    assert found == [], "ask the step type or the probe instead:\n" + "\n".join(found)


def test_every_other_meaning_is_still_there() -> None:
    """A listed exception that no longer occurs is removed from the list."""
    used = {
        (relative, name)
        for relative, path in _engine_files()
        for _line, name in names_decided_on(path.read_text())
    }
    assert set(OTHER_MEANINGS) <= used


KUBE_PLAYBOOK = """\
apiVersion: runbook/v1
kind: Playbook
metadata: {name: scale, version: 1.0.0, owner: ops, maturity: 2}
sli:
  probe:
    kubernetes: {context: kind-b, kind: Deployment, name: web, check: available_replicas}
steps:
  - id: scale
    kubectl: {action: scale, context: kind-a, kind: Deployment, name: web, replicas: 3}
  - id: pause
    wait: 1s
"""


def test_preflight_learns_the_kubernetes_parts_from_the_step_type_and_the_probe(
    tmp_path: Path,
) -> None:
    """The guard (a backend) names no type: the kubectl hook passes its names, and the
    probe's model says it reads the hook's block."""
    file = tmp_path / "scale.yaml"
    file.write_text(KUBE_PLAYBOOK)
    playbook = load_playbook(str(file))
    assert playbook.sli is not None and playbook.sli.probe.block == kubectl.block
    assert list(kube_contexts(playbook, kubectl.NAMES)) == [
        ("step scale", "kind-a"),
        ("the kubernetes SLI probe", "kind-b"),
    ]


def test_the_command_keys_are_the_step_types_and_probes_own() -> None:
    assert is_command(("steps", 0, "shell", "run"))
    assert is_command(("steps", 0, "undo", "ssh", "run"))
    assert is_command(("steps", 0, "minikube", "command"))
    assert is_command(("sli", "probe", "command", "run"))
    assert is_stdin(("steps", 0, "ssh", "stdin"))
    assert not is_command(("steps", 0, "http", "run"))
    assert not is_command(("sli", "probe", "shell", "run"))  # no such probe
    assert not is_stdin(("sli", "probe", "command", "stdin"))
