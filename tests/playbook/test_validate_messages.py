"""What `validate` says about a few common first mistakes: several required keys
missing, a tab in the indentation, a file that is not a playbook at all."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.playbook.identify import clearly_not_a_playbook
from engine.playbook.loader import check_file

HEADERLESS = """\
metadata:
  name: restart-web
steps:
  - id: restart
    readonly: true
    shell: {run: "true"}
"""


def messages(tmp_path: Path, text: str) -> list[str]:
    file = tmp_path / "playbook.yaml"
    file.write_text(text)
    return [finding.render() for finding in check_file(str(file)).findings]


def test_each_missing_required_key_is_named_once(tmp_path: Path) -> None:
    text = "kind: Playbook\nmetadata: {name: x}\n"
    found = messages(tmp_path, text)
    for key in ("apiVersion", "steps"):
        assert sum(f"missing required key {key!r}" in m for m in found) == 1, found
    assert any(m.startswith(f"{tmp_path}/playbook.yaml:1:1: missing required key") for m in found)
    # metadata misses two keys: each named once, at the metadata mapping
    for key in ("version", "maturity"):
        hits = [m for m in found if f"metadata: missing required key {key!r}" in m]
        assert len(hits) == 1 and ":2:11: " in hits[0], found


def test_a_playbook_without_its_header_is_said_to_be_no_playbook(tmp_path: Path) -> None:
    found = messages(tmp_path, HEADERLESS)
    assert len(found) == 1
    assert "1:1: not a playbook: it has no apiVersion and no kind" in found[0]
    assert "starts with `apiVersion: runbook/v1` and `kind: Playbook`" in found[0]


@pytest.mark.parametrize(
    "text",
    [
        "apiVersion: runbook/v1\nkind: Playbook\nmetadata:\n\tname: x\n",
        "apiVersion: runbook/v1\nkind: Playbook\nmetadata:\n  name: x\n\tversion: 1.0.0\n",
        "apiVersion: runbook/v1\nkind: Playbook\nsteps:\n  - id: a\n\t  readonly: true\n",
    ],
    ids=["tab-alone", "tab-after-spaces", "tab-in-a-list"],
)
def test_a_tab_in_the_indentation_gets_a_hint_about_tabs(tmp_path: Path, text: str) -> None:
    found = messages(tmp_path, text)
    assert len(found) == 1 and "YAML syntax error" in found[0], found
    assert found[0].endswith("YAML forbids tabs for indentation: replace the tab with spaces")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hosts:\n  web1: {address: 10.0.0.5}\n", True),
        ("# inventory\n---\ndefaults: {user: ops}\n", True),
        ("apiVersion: v1\nkind: ConfigMap\ndata: {a: b\n", True),  # broken, still no playbook
        ("- hosts: all\n  tasks: []\n", True),  # an Ansible playbook
        ("apiVersion: runbook/v1\nmetadata: [\n", False),
        ("kind: Playbook\nsteps: {\n", False),
        ('"apiVersion": "runbook/v1"\n', False),
        ("- apiVersion: runbook/v1\n", False),
        ("{hosts: {}}\n", False),  # a flow mapping: left to the full check
        ("", False),
        ("just words, no YAML mapping\n", False),
    ],
)
def test_what_is_clearly_not_a_playbook(text: str, expected: bool) -> None:
    assert clearly_not_a_playbook(text) is expected
