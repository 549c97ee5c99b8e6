"""A regression case is a file teams commit and CI checks: no secret in it, also where
the alert that started the run carried one in an annotation rather than in a label an
input took; and a case whose playbook moved is refused at the line that names it."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from serve_fixtures import Server, alert, notification, write_secret_label_playbook
from sli_helpers import run_cli, run_id_of


def test_a_declared_secret_in_the_alerts_annotation_is_redacted_in_the_case(
    tmp_path: Path, serve_factory: Callable[..., Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    canary = f"canary-{uuid.uuid4().hex[:12]}"
    folder = write_secret_label_playbook(tmp_path / "playbooks", tmp_path / "markers")
    server = serve_factory(folder, env={"LABEL_TOKEN": canary}).start()
    fired = alert("ServiceDown", service="api")
    fired["annotations"]["description"] = f"the api rejects token {canary.upper()}"
    assert server.post(notification([fired])).status == 200
    (row,) = server.wait_settled(1)
    assert row["state"] == "started", (row["reason"], server.log[-2000:])
    monkeypatch.setenv("LABEL_TOKEN", canary)  # where the case is made, as where it ran
    case = tmp_path / "case.yaml"

    done = run_cli("regress", str(row["run_id"]), "-o", str(case))

    assert done.returncode == 0, done.stdout + done.stderr
    text = case.read_text()
    assert canary.lower() not in text.lower()
    assert "the api rejects token «redacted:token»" in text


MOVED = """\
apiVersion: runbook/v1
kind: Playbook
metadata: {name: moved, version: 1.0.0, maturity: 2, owner: tests}
steps:
  - id: look
    readonly: true
    shell: {run: ["true"]}
"""


def test_a_case_whose_playbook_moved_is_refused_at_its_file_line(tmp_path: Path) -> None:
    playbook = tmp_path / "moved.yaml"
    playbook.write_text(MOVED)
    ran = run_cli("run", str(playbook), "--yes")
    assert ran.returncode == 0, ran.stderr
    case = tmp_path / "case.yaml"
    made = run_cli("regress", run_id_of(ran.stdout), "-o", str(case))
    assert made.returncode == 0, made.stderr
    playbook.rename(tmp_path / "elsewhere.yaml")
    line = case.read_text().splitlines().index("  file: moved.yaml") + 1

    for args in (["--dry-run"], ["--yes"]):
        done = run_cli("drill", "--case", str(case), *args)

        assert done.returncode == 2, done.stdout + done.stderr
        assert done.stderr.startswith(f"{case}:{line}:9: source.file: "), done.stderr
        assert "moved.yaml is not there" in done.stderr and "Traceback" not in done.stderr
        assert "runbook drill PLAYBOOK --case" in done.stderr  # how to fix it

    moved = run_cli("drill", str(tmp_path / "elsewhere.yaml"), "--case", str(case), "--dry-run")
    assert moved.returncode == 0, moved.stdout + moved.stderr


def test_a_case_drilled_against_another_playbook_is_refused(tmp_path: Path) -> None:
    playbook = tmp_path / "moved.yaml"
    playbook.write_text(MOVED)
    ran = run_cli("run", str(playbook), "--yes")
    assert ran.returncode == 0, ran.stderr
    case = tmp_path / "case.yaml"
    assert run_cli("regress", run_id_of(ran.stdout), "-o", str(case)).returncode == 0
    other = tmp_path / "other.yaml"
    other.write_text(MOVED.replace("name: moved", "name: other"))

    for args in (["--dry-run"], ["--yes"]):
        done = run_cli("drill", str(other), "--case", str(case), *args)

        assert done.returncode == 2, done.stdout + done.stderr
        assert done.stderr.startswith(
            f"error: {other} is the playbook 'other'; the case {case} is of 'moved'\n  hint: "
        ), done.stderr
        assert done.stdout == ""
    assert run_cli("drills", "-o", "json").stdout.strip() == "[]"  # no drill ran

    playbook.write_text(MOVED.replace("name: moved", "name: renamed"))
    renamed = run_cli("drill", "--case", str(case), "--dry-run")
    assert renamed.returncode == 2 and "is the playbook 'renamed'" in renamed.stderr


def test_a_case_is_not_written_over_a_device_also_with_force(tmp_path: Path) -> None:
    playbook = tmp_path / "moved.yaml"
    playbook.write_text(MOVED)
    ran = run_cli("run", str(playbook), "--yes")
    assert ran.returncode == 0, ran.stderr
    link = tmp_path / "stdout"
    link.symlink_to(os.devnull)  # as /dev/stdout is a link to a device

    done = run_cli("regress", run_id_of(ran.stdout), "-o", str(link), "--force")

    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith(f"error: cannot write {link}: it is a character device")
    assert link.is_symlink() and os.readlink(link) == os.devnull
