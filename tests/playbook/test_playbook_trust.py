"""A playbook someone else could have written is code they chose: `run` refuses it before
step 1 (sshd's StrictModes rules: the file and every folder above it owned by the user
or root and writable by nobody else, unless sticky); `plan` shows it with a warning."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from run_fixtures import current_env, playbook, run_env, runbook, runs_json  # noqa: F401

NOBODY = 65534


def write_playbook(folder: Path) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / "touch-marker.yaml"
    shutil.copyfile(playbook("touch-marker.yaml"), path)
    path.chmod(0o644)
    return path


def run(path: Path) -> tuple[subprocess.CompletedProcess[str], Path]:
    marker = current_env().work / "ran"
    return runbook("run", str(path), "-i", f"marker={marker}"), marker


def assert_refused(path: Path, what: str, fix: str) -> None:
    ran, marker = run(path)
    assert ran.returncode == 5, ran.stdout + ran.stderr
    assert f"playbook {path}:" in ran.stderr and what in ran.stderr
    assert f"hint: {fix}" in ran.stderr
    assert "Traceback" not in ran.stderr
    assert not marker.exists()
    assert runs_json() == []  # refused before anything was recorded


@pytest.mark.parametrize("bits", [0o666, 0o664, 0o646])
def test_a_playbook_others_can_write_is_refused(bits: int) -> None:
    path = write_playbook(current_env().work / "books")
    path.chmod(bits)

    assert_refused(path, "writable by others", f"`chmod go-w {path}`")


def test_a_playbook_owned_by_another_user_is_refused() -> None:
    path = write_playbook(current_env().work / "books")
    os.chown(path, NOBODY, NOBODY)

    assert_refused(path, f"owned by uid {NOBODY}", f"`chown {os.getuid()} {path}`")


def test_a_playbook_in_a_folder_others_can_write_is_refused_unless_sticky() -> None:
    folder = current_env().work / "shared"
    path = write_playbook(folder)
    folder.chmod(0o777)  # anyone could replace the file

    assert_refused(path, f"{folder} is writable by others", f"`chmod go-w {folder}`")

    folder.chmod(0o1777)  # sticky, like /tmp: only the file's owner may replace it
    ran, marker = run(path)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert marker.exists()


def test_a_symlink_to_a_playbook_others_can_write_is_refused() -> None:
    work = current_env().work
    target = write_playbook(work / "books")
    target.chmod(0o666)
    link = work / "link.yaml"
    link.symlink_to(target)

    ran, marker = run(link)

    assert ran.returncode == 5, ran.stdout + ran.stderr
    assert f"{target} is writable by others" in ran.stderr
    assert not marker.exists()


def test_plan_shows_a_playbook_others_can_write_with_a_warning() -> None:
    path = write_playbook(current_env().work / "books")
    path.chmod(0o666)

    planned = runbook("plan", str(path), "-i", "marker=/tmp/never")

    assert planned.returncode == 0, planned.stdout + planned.stderr
    assert "touch" in planned.stdout
    assert f"warning: playbook {path}:" in planned.stderr
    assert "`runbook run` refuses it" in planned.stderr


def test_plan_probe_runs_read_only_steps_so_it_refuses_like_run() -> None:
    work = current_env().work
    path = work / "probe.yaml"
    marker = work / "probed"
    text = Path(playbook("touch-marker.yaml")).read_text()
    path.write_text(text.replace("  - id: touch\n", "  - id: touch\n    readonly: true\n"))
    path.chmod(0o666)

    probed = runbook("plan", "--probe", str(path), "-i", f"marker={marker}")

    assert probed.returncode == 5, probed.stdout + probed.stderr
    assert "writable by others" in probed.stderr
    assert not marker.exists()  # a `readonly: true` step is still a command
