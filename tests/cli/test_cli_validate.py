"""`runbook validate`, `schema`, `list` and `show` as a user runs them: real processes.

Every broken playbook of the corpus goes through `runbook validate FILE`: exit 1, the
finding on stdout as `file:line:col: …`, no traceback, and nothing executed (corpus
files would `touch MARKER` if anything ran them; each run has its own folder).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from tree import REPO

INVALID = REPO / "tests" / "playbooks" / "invalid"
VALID = REPO / "tests" / "playbooks" / "valid"
SHIPPED = REPO / "playbooks"
DEMO = "playbooks/demo/disk-cleanup-demo.yaml"
CORPUS = sorted(path.name for path in INVALID.glob("*.yaml"))
SHIPPED_FILES = sorted(SHIPPED.rglob("*.yaml"))
# One real `runbook validate FILE` each: the unsafe tags and a step that would touch
# MARKER, the bomb, and text the YAML reader itself refuses.
REAL_PROCESS = [
    "tag-python-object-apply.yaml",
    "run-marker-unknown-key.yaml",
    "alias-bomb.yaml",
    "deep-flow-nesting.yaml",
    "not-utf8.yaml",
    "yaml-unclosed-quote.yaml",
]

# Valid, but with warnings: a level-1 step that changes something with no undo, no owner.
WARNINGS_ONLY = """\
apiVersion: runbook/v1
kind: Playbook
metadata: {name: warnings-only, version: 1.0.0, maturity: 1}
steps:
  - id: restart
    shell: {run: systemctl restart nginx}
"""


@dataclass
class Run:
    code: int
    out: str
    err: str
    cwd: Path


def environment(home: Path) -> dict[str, str]:
    env = dict(os.environ, HOME=str(home), RUNBOOK_HOME=str(home / ".runbook"))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def runbook(*args: str, cwd: Path = REPO, home: Path | None = None) -> Run:
    env = environment(home) if home else dict(os.environ, PYTHONPATH=str(REPO))
    command = [sys.executable, "-m", "engine", *args]
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    return Run(done.returncode, done.stdout, done.stderr, cwd)


def assert_clean_failure(run: Run, code: int) -> None:
    output = run.out + run.err
    assert run.code == code, output
    assert "Traceback" not in output
    assert "internal error" not in output


@pytest.mark.parametrize("name", CORPUS)
def test_validate_refuses_each_broken_playbook(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The click command in-process, so that the whole corpus stays fast."""
    from click.testing import CliRunner

    from engine.cli.app import cli

    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["validate", str(INVALID / name)])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert re.search(rf"^{re.escape(str(INVALID / name))}:\d+:\d+: ", result.stdout, re.M)
    assert "1 playbook(s) checked: 0 valid, 1 invalid" in result.stdout
    assert not list(tmp_path.rglob("MARKER")), "something in the playbook was executed"


def test_validate_refuses_the_whole_corpus_in_a_real_process(tmp_path: Path) -> None:
    files = [str(INVALID / name) for name in CORPUS]
    run = runbook("validate", *files, cwd=tmp_path, home=tmp_path / "home")
    assert_clean_failure(run, 1)
    count = len(files)
    assert f"{count} playbook(s) checked: 0 valid, {count} invalid" in run.out
    for file in files:
        assert re.search(rf"^{re.escape(file)}:\d+:\d+: ", run.out, re.M), file
    assert not list(tmp_path.rglob("MARKER"))


@pytest.mark.parametrize("name", REAL_PROCESS)
def test_validate_file_in_a_real_process(name: str, tmp_path: Path) -> None:
    run = runbook("validate", str(INVALID / name), cwd=tmp_path, home=tmp_path / "home")
    assert_clean_failure(run, 1)
    assert run.out.startswith(f"{INVALID / name}:")
    assert not list(tmp_path.rglob("MARKER"))


def test_validate_refuses_a_50_mb_file_quickly(tmp_path: Path) -> None:
    huge = tmp_path / "huge.yaml"
    with huge.open("wb") as handle:
        handle.write(b"apiVersion: runbook/v1\n" + b"#" * (50 * 1024 * 1024) + b"\n")
    started = time.perf_counter()
    run = runbook("validate", str(huge), cwd=tmp_path)
    assert time.perf_counter() - started < 10  # interpreter start-up included
    assert_clean_failure(run, 1)
    assert f"{huge}:1:1: the file is 50.0 MiB, larger than the 1 MiB limit" in run.out


def test_every_shipped_playbook_is_valid_strict() -> None:
    run = runbook("validate", "--strict", "playbooks")
    count = len(SHIPPED_FILES)
    assert run.code == 0, run.out + run.err
    summary = f"{count} playbook(s) checked: {count} valid, 0 invalid (0 error(s), 0 warning(s))"
    assert run.out.strip() == summary


def test_schema_is_valid_json_schema_with_an_id() -> None:
    from jsonschema import Draft202012Validator

    run = runbook("schema")
    assert run.code == 0, run.err
    schema = json.loads(run.out)
    Draft202012Validator.check_schema(schema)
    assert schema["$id"].startswith("https://")
    assert run.out == (REPO / "schema" / "playbook.v1.json").read_text(encoding="utf-8")
    for path in SHIPPED_FILES:  # the published schema accepts what the engine accepts
        Draft202012Validator(schema).validate(yaml.safe_load(path.read_text(encoding="utf-8")))


def test_validate_recurses_into_directories_skipping_hidden_ones(tmp_path: Path) -> None:
    minimal = (VALID / "minimal.yaml").read_text(encoding="utf-8")
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / ".git").mkdir()
    (tmp_path / "a" / "b" / "deep.yaml").write_text(minimal, encoding="utf-8")
    (tmp_path / "a" / "short.yml").write_text(minimal, encoding="utf-8")
    (tmp_path / "a" / ".git" / "broken.yaml").write_text("{", encoding="utf-8")
    (tmp_path / "a" / "notes.txt").write_text("{", encoding="utf-8")
    run = runbook("validate", str(tmp_path), "-o", "json")
    assert run.code == 0, run.out + run.err
    files = [report["file"] for report in json.loads(run.out)]
    assert files == [str(tmp_path / "a" / "b" / "deep.yaml"), str(tmp_path / "a" / "short.yml")]


def test_json_output_shape(tmp_path: Path) -> None:
    valid, broken = VALID / "minimal.yaml", INVALID / "duration-words.yaml"
    run = runbook("validate", "--output", "json", str(valid), str(broken))
    assert run.code == 1
    reports = json.loads(run.out)
    assert reports[0] == {"file": str(valid), "valid": True, "findings": []}
    assert reports[1] == {
        "file": str(broken),
        "valid": False,
        "findings": [
            {
                "line": 13,
                "col": 14,
                "path": "steps[0].timeout",
                "severity": "error",
                "message": "'5 minutes' is not a duration",
                "hint": "use e.g. 500ms, 30s, 5m or 1h",
            }
        ],
    }


def test_text_output_renders_the_finding_with_its_hint() -> None:
    broken = INVALID / "duration-words.yaml"
    run = runbook("validate", str(broken))
    assert run.out.splitlines()[0] == (
        f"{broken}:13:14: steps[0].timeout: '5 minutes' is not a duration"
        " — use e.g. 500ms, 30s, 5m or 1h"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["validate", DEMO, "missing.yaml"], "error: missing.yaml: no such file or directory"),
        (["validate", "--output", "xml", DEMO], "Invalid value for '--output'"),
    ],
)
def test_usage_errors_exit_2(args: list[str], message: str) -> None:
    run = runbook(*args)
    assert_clean_failure(run, 2)
    assert message in run.err


def test_a_folder_without_playbooks_is_a_usage_error_not_a_pass(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a playbook", encoding="utf-8")
    run = runbook("validate", str(tmp_path))
    assert_clean_failure(run, 2)
    assert f"error: {tmp_path}: no playbooks (*.yaml, *.yml) found" in run.err


def test_warnings_pass_unless_strict(tmp_path: Path) -> None:
    path = tmp_path / "warnings.yaml"
    path.write_text(WARNINGS_ONLY, encoding="utf-8")
    lenient = runbook("validate", str(path))
    assert lenient.code == 0, lenient.out
    assert f"{path}:5:5: warning: steps[0]: step 'restart' changes something" in lenient.out
    assert f"{path}:3:11: warning: metadata.owner: no owner" in lenient.out
    assert "1 valid, 0 invalid (0 error(s), 2 warning(s))" in lenient.out
    strict = runbook("validate", "--strict", str(path))
    assert strict.code == 1
    assert "0 valid, 1 invalid (0 error(s), 2 warning(s))" in strict.out
    reports = json.loads(runbook("validate", "--strict", "-o", "json", str(path)).out)
    assert reports[0]["valid"] is False
    assert {f["severity"] for f in reports[0]["findings"]} == {"warning"}


def test_list_shows_every_shipped_playbook() -> None:
    run = runbook("list", "playbooks")
    assert run.code == 0, run.err
    lines = run.out.splitlines()
    assert lines[0].split() == ["NAME", "VERSION", "MATURITY", "OWNER", "STEPS", "FILE"]
    assert len(lines) == 1 + len(SHIPPED_FILES)
    for path in SHIPPED_FILES:
        name = yaml.safe_load(path.read_text(encoding="utf-8"))["metadata"]["name"]
        relative = str(path.relative_to(REPO))
        assert any(line.startswith(name + " ") and line.endswith(relative) for line in lines)


def test_list_marks_invalid_playbooks(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("steps: [", encoding="utf-8")
    run = runbook("list", str(tmp_path))
    assert run.code == 0, run.err
    assert run.out.splitlines()[1].startswith("(invalid)")


def test_show_describes_the_demo_playbook() -> None:
    run = runbook("show", DEMO)
    assert run.code == 0, run.err
    demo = yaml.safe_load((REPO / DEMO).read_text(encoding="utf-8"))
    meta = demo["metadata"]
    assert run.out.startswith(f"disk-cleanup-demo {meta['version']} — level 2 (scripted)\n")
    for number, step in enumerate(demo["steps"], 1):
        assert f"  {number}. {step['id']} [" in run.out


def test_show_refuses_an_invalid_playbook_with_its_findings() -> None:
    broken = INVALID / "duration-words.yaml"
    run = runbook("show", str(broken))
    assert_clean_failure(run, 2)
    assert f"{broken}:13:14: steps[0].timeout: '5 minutes' is not a duration" in run.err
