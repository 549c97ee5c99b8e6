"""YAML a Kubernetes step reads at run time (a manifest, a patch string) is read as a
playbook is: a scalar YAML 1.1 and 1.2 read differently, or a number that is not
finite, fails the step with its position instead of reaching the cluster."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.backends.kube.apply import load_manifest
from engine.backends.kube.ops import ActionError
from engine.backends.kube.patch import patch_of

MANIFEST = "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: settings}}\ndata: {{{data}}}\n"


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ("mode: 0755", "manifest:4:14: data.mode: '0755' means 493 in YAML 1.1"),
        ("debug: on", "manifest:4:15: data.debug: 'on' means true in YAML 1.1"),
        ("ratio: .inf", "manifest:4:15: data.ratio: '.inf' is not a finite number"),
    ],
)
def test_a_manifest_read_two_ways_is_refused(tmp_path: Path, data: str, problem: str) -> None:
    text = MANIFEST.format(data=data)
    with pytest.raises(ActionError, match="the manifest is not valid YAML") as caught:
        load_manifest({"manifest": text}, tmp_path)
    assert problem in str(caught.value)
    (tmp_path / "cm.yaml").write_text(text)
    with pytest.raises(ActionError, match="the manifest is not valid YAML"):
        load_manifest({"file": "cm.yaml"}, tmp_path)


def test_a_quoted_manifest_value_is_text(tmp_path: Path) -> None:
    manifest = load_manifest(
        {"manifest": MANIFEST.format(data="debug: 'on', mode: '0755'")}, tmp_path
    )
    assert manifest["data"] == {"debug": "on", "mode": "0755"}


@pytest.mark.parametrize(
    ("patch", "problem"),
    [
        ("spec: {paused: yes}", "patch:1:16: spec.paused: 'yes' means true in YAML 1.1"),
        ("[{op: add, path: /x, value: .nan}]", "patch:1:29: [0].value: '.nan' is not a finite"),
        ("a: 1\n---\nb: 2\n", "the patch is one YAML document; this one has 2"),
    ],
)
def test_a_patch_read_two_ways_is_refused(patch: str, problem: str) -> None:
    with pytest.raises(ActionError) as caught:
        patch_of({"patch": patch})
    assert problem in str(caught.value)


def test_a_plain_patch_reads_as_before() -> None:
    assert patch_of({"patch": "spec: {replicas: 3, paused: true}"}) == (
        "strategic",
        {"spec": {"replicas": 3, "paused": True}},
    )
