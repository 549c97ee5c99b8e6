"""The compiled-playbook cache (engine/playbook/compiled.py): a run of an unchanged
playbook skips the YAML, schema and template checks, and no change to the playbook or
to the engine ever meets a stale entry. Every run here is the real CLI; the cache lives
in the test's own $HOME/.cache (run_fixtures.run_env)."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from run_fixtures import REPO, current_env, run_env, runbook  # noqa: F401  (autouse fixture)

from engine.playbook import compiled
from engine.playbook.compiled import load_checked, lookup
from engine.playbook.loader import load_playbook

PLAYBOOK = """\
apiVersion: runbook/v1
kind: Playbook
metadata: {{name: cache-test, version: {version}, maturity: 2, owner: tests}}
steps:
  - id: say
    readonly: true
    shell: {{run: [echo, "{word}"]}}
"""
SHIPPED = sorted((REPO / "playbooks").glob("*/*.yaml"))


def entries() -> list[Path]:
    folder = Path(os.environ["HOME"]) / ".cache" / "runbook-engine"
    return sorted(folder.glob("playbook-*.pickle"))


def write_playbook(word: str, version: str = "1.0.0") -> Path:
    path = current_env().work / "cache-test.yaml"
    path.write_text(PLAYBOOK.format(word=word, version=version))
    return path


def said(path: Path) -> str:
    ran = runbook("run", str(path))
    assert ran.returncode == 0, ran.stdout + ran.stderr
    return ran.stdout


def test_a_second_run_reads_the_checked_playbook_from_the_cache() -> None:
    path = write_playbook("first")

    assert "first" in said(path)
    assert len(entries()) == 1
    inode = entries()[0].stat().st_ino  # a rewrite is a new file (os.replace)
    assert "first" in said(path)

    assert len(entries()) == 1 and entries()[0].stat().st_ino == inode  # read, not rewritten


def test_an_edited_playbook_is_checked_again_and_an_error_is_never_hidden() -> None:
    path = write_playbook("first")
    said(path)

    path.write_text(PLAYBOOK.format(word="second", version="1.0.1"))  # a new version
    assert "second" in said(path)
    assert len(entries()) == 2

    invalid = PLAYBOOK.format(word="second", version="1.0.2")
    path.write_text(invalid.replace("readonly: true", "readonly: maybe"))
    refused = runbook("run", str(path))
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "cache-test.yaml:6:15" in refused.stderr  # the full check ran, with its location
    assert len(entries()) == 2  # an invalid playbook is never cached


def test_an_entry_others_could_have_written_is_not_used() -> None:
    path = write_playbook("genuine")
    said(path)
    [entry] = entries()
    # What an attacker with write access to the entry would plant: a valid playbook
    # (the same file name, another command), in an entry anybody may write.
    planted = load_playbook(
        str(write_playbook("planted")), text=PLAYBOOK.format(word="planted", version="1.0.0")
    )
    write_playbook("genuine")
    key, _ = pickle.loads(entry.read_bytes())  # the genuine key: only the mode gives it away
    entry.write_bytes(pickle.dumps((key, planted)))
    entry.chmod(0o666)

    output = said(path)

    assert "genuine" in output and "planted" not in output


def test_a_damaged_entry_is_a_miss_and_is_written_anew() -> None:
    path = write_playbook("whole")
    said(path)
    [entry] = entries()
    entry.write_bytes(b"\x80\x05 not a pickle")

    assert "whole" in said(path)

    assert isinstance(pickle.loads(entry.read_bytes())[1], type(load_playbook(str(path))))


def test_a_run_from_the_cache_imports_no_yaml_schema_or_template_checks() -> None:
    path = write_playbook("lean")
    said(path)
    code = (
        "import sys\n"
        "from engine.run.preflight import RunRequest, prepare\n"
        f"prepare(RunRequest({str(path)!r}), 'r1', 'live')\n"
        "heavy = ('yaml', 'jsonschema', 'fastjsonschema', 'engine.playbook.loader',"
        " 'engine.playbook.templates')\n"
        "print(sorted(name for name in heavy if name in sys.modules))\n"
    )
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)

    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "[]"


def test_a_changed_engine_never_meets_an_entry_of_the_old_one(tmp_path: Path) -> None:
    # A copy of the package, so that "editing the engine" touches no shared file.
    copy = tmp_path / "engine-copy"
    shutil.copytree(REPO / "engine", copy / "engine", ignore=shutil.ignore_patterns("*.pyc"))
    shutil.copytree(REPO / "schema", copy / "schema")
    env = {**os.environ, "PYTHONPATH": str(copy)}
    path = write_playbook("versioned")

    def run() -> None:
        ran = runbook("run", str(path), extra_env=env, cwd=tmp_path)  # not the checkout's
        assert ran.returncode == 0, ran.stdout + ran.stderr

    run()
    run()
    assert len(entries()) == 1
    which = [sys.executable, "-c", "import engine; print(engine.__file__)"]
    used = subprocess.run(which, env=env, cwd=tmp_path, capture_output=True, text=True)
    assert used.stdout.startswith(str(copy)), used.stdout + used.stderr
    module = copy / "engine" / "playbook" / "build.py"
    module.write_text(module.read_text() + "\n# edited\n")
    run()
    assert len(entries()) == 2


@pytest.mark.parametrize("path", SHIPPED, ids=[f"{p.parent.name}/{p.stem}" for p in SHIPPED])
def test_every_shipped_playbook_comes_back_from_the_cache_unchanged(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    text = path.read_text()

    checked = load_checked(str(path), text)
    cached = lookup(str(path), text)

    assert cached is not None and cached is not checked
    assert cached == checked == load_playbook(str(path))
    assert json.dumps(repr(cached)) == json.dumps(repr(checked))


def test_the_cache_keeps_the_most_recently_used_entries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(compiled, "KEEP_ENTRIES", 3)  # the bound, made small for the test
    folder = tmp_path / "cache" / "runbook-engine"
    paths = []
    for index in range(5):
        path = tmp_path / f"pb{index}.yaml"
        path.write_text(PLAYBOOK.format(word=f"word{index}", version="1.0.0"))
        load_checked(str(path), path.read_text())
        paths.append(path)
        for entry in folder.glob("playbook-*.pickle"):  # ages apart, whatever the clock
            status = entry.stat()
            os.utime(entry, ns=(status.st_atime_ns, status.st_mtime_ns - 10**9))
    first = paths[2]
    assert lookup(str(first), first.read_text()) is not None  # used: now the newest

    newest = tmp_path / "pb-new.yaml"
    newest.write_text(PLAYBOOK.format(word="new", version="1.0.0"))
    load_checked(str(newest), newest.read_text())

    kept = [p for p in [*paths, newest] if lookup(str(p), p.read_text()) is not None]
    assert len(list(folder.glob("playbook-*.pickle"))) == 3
    assert kept == [paths[2], paths[4], newest]
