"""`runbook validate DIR` on a folder that keeps other YAML beside its playbooks: an SSH
inventory, a Kubernetes manifest, a docker-compose file. They are skipped and listed,
not failed; a file named on the command line must still be a playbook."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from test_cli_validate import REPO, assert_clean_failure, runbook

from engine.backends.ssh.inventory import load_inventory

DEMO = REPO / "playbooks" / "demo" / "disk-cleanup-demo.yaml"
SKIPPED = "skipped: not a playbook (no apiVersion: runbook/v1, kind: Playbook)"
INVENTORY = """\
defaults: {user: ops, connect_timeout: 5s}
hosts:
  web1: {address: 10.0.0.5}
  web2: {address: 10.0.0.6, jump: bastion}
  bastion: {address: 203.0.113.9}
groups:
  web: [web1, web2]
"""
MANIFEST = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
"""
# Not valid YAML (an unclosed '['), but plainly a compose file, not a playbook.
BROKEN_COMPOSE = """\
services:
  web:
    image: nginx
    ports: ["80:80"
"""
# Not valid YAML either, but it says it is a playbook: its error is reported.
BROKEN_PLAYBOOK = """\
apiVersion: runbook/v1
kind: Playbook
metadata: [
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A playbook with its inventory and a manifest beside it."""
    folder = tmp_path / "playbooks"
    folder.mkdir()
    shutil.copy(DEMO, folder / "disk-cleanup.yaml")
    (folder / "inventory.yaml").write_text(INVENTORY)
    (folder / "deploy.yml").write_text(MANIFEST)
    return folder


def test_the_inventory_of_the_fixture_is_a_real_one(folder: Path) -> None:
    inventory = load_inventory(folder / "inventory.yaml", required=True)
    assert inventory.groups["web"] == ("web1", "web2")


def test_a_folder_skips_its_inventory_and_manifest(folder: Path, tmp_path: Path) -> None:
    run = runbook("validate", "--strict", str(folder), cwd=tmp_path, home=tmp_path / "home")
    assert run.code == 0, run.out + run.err
    assert f"{folder / 'inventory.yaml'}: {SKIPPED}" in run.out.splitlines()
    assert f"{folder / 'deploy.yml'}: {SKIPPED}" in run.out.splitlines()
    assert "1 playbook(s) checked: 1 valid, 0 invalid" in run.out
    assert "2 file(s) skipped: not playbooks" in run.out


def test_json_lists_each_skipped_file(folder: Path, tmp_path: Path) -> None:
    run = runbook("validate", "-o", "json", str(folder), cwd=tmp_path, home=tmp_path / "home")
    assert run.code == 0, run.err
    reports = {Path(report["file"]).name: report for report in json.loads(run.out)}
    assert reports["disk-cleanup.yaml"]["valid"] is True
    assert "skipped" not in reports["disk-cleanup.yaml"]
    for name in ("inventory.yaml", "deploy.yml"):
        assert reports[name]["valid"] is None
        assert reports[name]["skipped"].startswith("not a playbook")
        assert reports[name]["findings"] == []


def test_a_named_file_that_is_not_a_playbook_is_an_error(folder: Path, tmp_path: Path) -> None:
    files = [str(folder / "inventory.yaml"), str(folder / "deploy.yml")]
    run = runbook("validate", *files, cwd=tmp_path, home=tmp_path / "home")
    assert_clean_failure(run, 1)
    lines = run.out.splitlines()
    assert f"{files[0]}:1:1: not a playbook: it has no apiVersion and no kind" in lines[0]
    assert "it has apiVersion: 'apps/v1', kind: 'Deployment'" in lines[1]
    assert "`apiVersion: runbook/v1` and `kind: Playbook`" in lines[1]
    assert "2 playbook(s) checked: 0 valid, 2 invalid (2 error(s)" in run.out


def test_yaml_that_does_not_parse_is_skipped_only_when_plainly_no_playbook(
    folder: Path, tmp_path: Path
) -> None:
    (folder / "compose.yaml").write_text(BROKEN_COMPOSE)
    (folder / "broken.yaml").write_text(BROKEN_PLAYBOOK)
    run = runbook("validate", str(folder), cwd=tmp_path, home=tmp_path / "home")
    assert_clean_failure(run, 1)
    assert f"{folder / 'compose.yaml'}: {SKIPPED}" in run.out.splitlines()
    assert f"{folder / 'broken.yaml'}:4:1: YAML syntax error" in run.out
    assert "2 playbook(s) checked: 1 valid, 1 invalid" in run.out


def test_a_playbook_missing_one_header_key_is_still_checked(folder: Path, tmp_path: Path) -> None:
    text = DEMO.read_text().replace("apiVersion: runbook/v1\n", "")
    (folder / "no-version.yaml").write_text(text)
    run = runbook("validate", str(folder), cwd=tmp_path, home=tmp_path / "home")
    assert_clean_failure(run, 1)
    assert "missing required key 'apiVersion'" in run.out


def test_a_folder_of_no_playbooks_is_a_usage_error(tmp_path: Path) -> None:
    folder = tmp_path / "hosts"
    folder.mkdir()
    (folder / "inventory.yaml").write_text(INVENTORY)
    run = runbook("validate", str(folder), cwd=tmp_path, home=tmp_path / "home")
    assert_clean_failure(run, 2)
    assert "no playbooks found: 1 YAML file(s) skipped, none is a playbook" in run.err + run.out


def test_list_shows_the_playbook_and_leaves_the_inventory_and_manifest_out(
    folder: Path, tmp_path: Path
) -> None:
    run = runbook("list", str(folder), cwd=tmp_path, home=tmp_path / "home")
    assert run.code == 0, run.out + run.err
    assert "disk-cleanup.yaml" in run.out
    assert "inventory.yaml" not in run.out
    assert "deploy.yml" not in run.out
    assert "(invalid)" not in run.out
