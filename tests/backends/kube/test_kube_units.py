"""The parts of the Kubernetes support that need no cluster: which context a step
uses, the level-3 rule, what the step body must hold, what a patch touches, and that
the `kubernetes` package is imported only when a Kubernetes step runs."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from run_fixtures import run_env, runbook  # noqa: F401  (autouse fixture)
from tree import TESTS

from engine.backends.kube import fields
from engine.backends.kube.config import KubeConfigError, bind
from engine.core.findings import Location
from engine.core.results import SpecError
from engine.steps import kubectl as step
from engine.templating.render import TemplateRenderer

BOOKS = TESTS / "playbooks" / "kube"


def kubeconfig(path: Path, contexts: list[str], current: str = "") -> Path:
    config = {
        "apiVersion": "v1", "kind": "Config", "current-context": current,
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:1"}}],
        "contexts": [{"name": n, "context": {"cluster": "c", "user": "u"}} for n in contexts],
        "users": [{"name": "u", "user": {"token": "t"}}],
    }  # fmt: skip
    path.write_text(json.dumps(config))
    return path


def render(**variables: Any) -> TemplateRenderer:
    return TemplateRenderer({"inputs": variables})


def test_the_step_context_wins_then_the_playbook_then_the_current_one(tmp_path: Path) -> None:
    config = kubeconfig(tmp_path / "config", ["dev", "prod"], current="dev")
    defaults = {"env_kubeconfig": str(config), "context": "{{ inputs.cluster }}"}

    assert bind("prod", defaults, render(cluster="dev"), tmp_path).context == "prod"
    assert bind(None, defaults, render(cluster="prod"), tmp_path).context == "prod"
    implicit = bind(None, {"env_kubeconfig": str(config)}, render(), tmp_path)
    assert (implicit.context, implicit.explicit) == ("dev", False)


def test_a_context_missing_from_the_kubeconfig_names_the_known_ones(tmp_path: Path) -> None:
    config = kubeconfig(tmp_path / "config", ["dev"])
    with pytest.raises(KubeConfigError, match=r"context 'prod' is not in .*contexts: dev"):
        bind("prod", {"env_kubeconfig": str(config)}, render(), tmp_path)
    with pytest.raises(KubeConfigError, match="no current-context"):
        bind(None, {"env_kubeconfig": str(config)}, render(), tmp_path)


def test_a_kubeconfig_others_can_write_is_not_read(tmp_path: Path) -> None:
    config = kubeconfig(tmp_path / "config", ["dev"], current="dev")
    assert bind(None, {"env_kubeconfig": str(config)}, render(), tmp_path).context == "dev"
    config.chmod(0o666)  # anyone could point it at their server, or add an exec plugin
    with pytest.raises(KubeConfigError, match=f"kubeconfig {config}: .*writable by others"):
        bind(None, {"env_kubeconfig": str(config)}, render(), tmp_path)


def test_kubeconfig_lists_merge_and_relative_paths_follow_the_playbook(tmp_path: Path) -> None:
    first = kubeconfig(tmp_path / "a", ["dev"], current="dev")
    second = kubeconfig(tmp_path / "b", ["prod"], current="prod")
    listed = {"env_kubeconfig": f"{first}:{second}"}
    relative = {"kubeconfig": "b", "base_dir": str(tmp_path)}

    assert bind(None, listed, render(), tmp_path).context == "dev"
    assert bind("prod", listed, render(), tmp_path).context == "prod"
    assert bind(None, relative, render(), Path("/elsewhere")).kubeconfig == str(second)


def test_a_step_body_missing_what_its_action_needs_is_refused() -> None:
    where = Location("x.yaml")
    with pytest.raises(SpecError, match="kubectl scale needs `replicas`"):
        step.parse({"action": "scale", "kind": "Deployment", "name": "web"}, where)
    with pytest.raises(SpecError, match="cannot act on a ConfigMap"):
        step.parse({"action": "scale", "kind": "ConfigMap", "name": "x", "replicas": 1}, where)
    with pytest.raises(SpecError, match="unknown kind 'Deploymnet'"):
        step.parse({"action": "get", "kind": "Deploymnet"}, where)
    with pytest.raises(SpecError, match="kubectl export needs `to`"):
        step.parse({"action": "export", "namespaces": ["a"]}, where)
    spec = step.parse({"action": "drain", "name": "n1"}, where)
    assert step.undoes_itself(spec) and not step.is_readonly(spec)
    delete = step.parse({"action": "delete", "kind": "Pod", "selector": "a=b"}, where)
    assert not step.undoes_itself(delete)


@pytest.mark.parametrize(
    ("patch", "patch_type", "paths"),
    [
        ({"spec": {"replicas": 1}, "metadata": {"labels": {"a": "b"}}}, "strategic",
         [["spec"], ["metadata", "labels"]]),
        ([{"op": "add", "path": "/metadata/annotations/x~1y", "value": "1"},
          {"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "i"}],
         "json", [["metadata", "annotations"], ["spec"]]),
        ({"data": {"a": None}, "metadata": {"resourceVersion": "1"}}, "merge", [["data"]]),
    ],
)  # fmt: skip
def test_what_a_patch_touches(patch: Any, patch_type: str, paths: list[list[str]]) -> None:
    assert fields.touched(patch, patch_type) == paths


def test_a_snapshot_puts_back_present_and_absent_parts() -> None:
    before = {"spec": {"a": 1}, "metadata": {"name": "x", "labels": {"k": "v"}}}
    saved = fields.snapshot(before, [["spec"], ["metadata", "labels"], ["metadata", "annotations"]])
    after = {"spec": {"a": 2}, "metadata": {"name": "x", "annotations": {"n": "1"}}}

    assert fields.apply_snapshot(after, json.loads(json.dumps(saved))) == before


def test_level_3_needs_an_explicit_context(tmp_path: Path) -> None:
    playbook = tmp_path / "l3.yaml"
    playbook.write_text(
        textwrap.dedent("""\
        apiVersion: runbook/v1
        kind: Playbook
        metadata:
          name: l3
          version: 1.0.0
          maturity: 3
          owner: tests
          triggers: [{alertname: WebDown}]
        targets: ["k8s:web"]
        sli:
          probe: {kubernetes: {namespace: shop, kind: Deployment, name: web}}
        steps:
          - id: scale
            timeout: 30s
            kubectl: {action: scale, namespace: shop, kind: Deployment, name: web, replicas: 3}
    """)
    )

    checked = runbook("validate", str(playbook))

    assert checked.returncode == 1
    assert "step 'scale' names no kubeconfig context; level 3 never uses the current one" in (
        checked.stdout + checked.stderr
    )


def test_plan_without_a_cluster_says_why_it_cannot_tell(tmp_path: Path) -> None:
    config = kubeconfig(tmp_path / "config", ["staging"])
    planned = runbook("plan", str(BOOKS / "scale-then-fail.yaml"), "-i", "namespace=shop",
                      extra_env={"KUBECONFIG": str(config)})  # fmt: skip

    assert planned.returncode == 0, planned.stdout + planned.stderr
    assert "context 'kcp' is not in the kubeconfig" in planned.stdout


def test_the_kubernetes_package_is_imported_only_when_a_kubernetes_step_runs() -> None:
    code = textwrap.dedent(f"""\
        import sys
        from engine.playbook.loader import load_playbook
        from engine.steps.registry import step_type
        load_playbook({str(BOOKS / "mutations.yaml")!r})
        step_type("kubectl")
        import engine.sli.checker, engine.backends.kube.guard
        print("kubernetes" in sys.modules, "urllib3" in sys.modules)
    """)
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert shown.stdout.split()[0] == "False", shown.stderr
