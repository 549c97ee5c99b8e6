"""`runbook run` parsed without click (engine.fastpath) must mean exactly what click's
`run` command makes of the same arguments, and hand everything else to click."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.cli.app import cli
from engine.fastpath import RunArguments, parse_run

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "playbooks" / "demo" / "disk-cleanup-demo.yaml"


def vocabulary(folder: Path) -> list[str]:
    playbook, other, inventory = folder / "pb.yaml", folder / "other.yaml", folder / "hosts.yaml"
    for path in (playbook, other, inventory):
        path.write_text("kind: Playbook\n")
    (folder / "adir").mkdir(exist_ok=True)
    files = [str(playbook), str(other), "pb.yaml", str(folder / "missing.yaml"), "adir", "-"]
    options = ["-i", "--input", "--input=a=1", "-ia=1", "--inventory", "--inventory=hosts.yaml"]
    options += ["--yes", "-y", "--force", "--quiet", "-q", "-qy", "-o", "--output"]
    options += ["--output=json", "--output=xml", "--dry-run", "--probe", "-h", "--help", "--"]
    options += ["--bogus", "-z", "--yes=1", "-i=a=1", "--inp", "--wait-lock", "--wait-lock=5s"]
    values = ["a=1", "b=two words", "c=-1", "-x", "json", "text", "JSON", "hosts.yaml", ""]
    values += ["30s", "soon"]
    return files + options + values


def arguments(playbook: str, **given: object) -> RunArguments:
    plain = {"inputs": (), "inventory": None, "assume_yes": False, "force": False}
    rest = {"quiet": False, "output": "text", "wait_lock": None}
    return {"playbook": playbook, **plain, **rest, **given}  # type: ignore[return-value]


def click_params(args: list[str]) -> dict[str, object] | None:
    command = cli.commands["run"]
    try:
        with command.make_context("run", list(args)) as ctx:
            return dict(ctx.params)
    except (click.exceptions.ClickException, click.exceptions.Exit):
        return None


PLAIN = [["-i", "a=1"], ["--input", "b=two words"], ["--input=c="], ["-o", "json"]]
PLAIN += [["--output", "text"], ["--output=json"], ["--inventory", "hosts.yaml"]]
PLAIN += [["--inventory=hosts.yaml"], ["--yes"], ["-y"], ["--force"], ["--quiet"], ["-q"]]
PLAIN += [["--wait-lock", "30s"], ["--wait-lock=1m"], ["--wait-lock", "soon"]]


def command_lines(folder: Path) -> st.SearchStrategy[list[str]]:
    """Mostly plain `run` lines (so that both parsers accept many), with noise mixed in."""
    noise = st.sampled_from(vocabulary(folder)).map(lambda token: [token])
    parts = st.lists(st.one_of(st.sampled_from(PLAIN), st.sampled_from(PLAIN), noise), max_size=6)
    where = st.integers(min_value=0, max_value=6)
    playbook = st.sampled_from(["pb.yaml", str(folder / "pb.yaml"), "other.yaml"])
    return st.builds(_with_playbook, parts, where, playbook)


def _with_playbook(parts: list[list[str]], where: int, playbook: str) -> list[str]:
    return [token for part in [*parts[:where], [playbook], *parts[where:]] for token in part]


@settings(
    max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_where_the_fast_parser_answers_click_answers_the_same(
    data: st.DataObject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RUNBOOK_INVENTORY", raising=False)
    noise = st.lists(st.sampled_from(vocabulary(tmp_path)), max_size=7)
    args = data.draw(st.one_of(command_lines(tmp_path), noise))

    fast = parse_run(["run", *args])
    if fast is None:
        return  # click decides, with its own messages
    params = click_params(args)

    assert params is not None, f"click refuses {args} but the fast parser accepted it"
    assert params.pop("dry_run") is False and params.pop("probe") is False
    assert params == fast


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["pb.yaml"], arguments("pb.yaml")),
        (["pb.yaml", "-q", "-y"], arguments("pb.yaml", assume_yes=True, quiet=True)),
        (
            ["-i", "a=1", "pb.yaml", "--input=b=2", "-o", "json", "--inventory", "hosts.yaml"],
            arguments("pb.yaml", inputs=("a=1", "b=2"), inventory="hosts.yaml", output="json"),
        ),
        (["--force", "--output=text", "pb.yaml"], arguments("pb.yaml", force=True)),
        (["pb.yaml", "--wait-lock", "5m"], arguments("pb.yaml", wait_lock="5m")),
    ],
)
def test_the_plain_command_lines_take_the_fast_path(
    args: list[str], expected: RunArguments, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RUNBOOK_INVENTORY", raising=False)
    vocabulary(tmp_path)

    assert parse_run(["run", *args]) == expected
    assert click_params(args) is not None


@pytest.mark.parametrize(
    "args",
    [
        ["pb.yaml", "--dry-run"],
        ["pb.yaml", "--help"],
        ["pb.yaml", "-qy"],  # joined short flags: click's to read
        ["pb.yaml", "-i", "-x"],  # a value that looks like an option
        ["pb.yaml", "-q", "-q"],
        ["pb.yaml", "--wait-lock", "1s", "--wait-lock", "2s"],
        ["pb.yaml", "--wait-lock"],
        ["pb.yaml", "--", "a"],
        ["adir"],
        ["missing.yaml"],
        ["pb.yaml", "--inventory", "adir"],
        [],
    ],
)
def test_anything_else_is_left_to_click(
    args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RUNBOOK_INVENTORY", raising=False)
    vocabulary(tmp_path)

    assert parse_run(["run", *args]) is None


def test_an_unreadable_file_is_left_to_click(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Root reads every file, so the kernel's answer is stood in for: os.access says no
    # for one file, to both parsers alike (click asks os.access too).
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RUNBOOK_INVENTORY", raising=False)
    vocabulary(tmp_path)
    real_access = os.access
    denied = {str(tmp_path / "hosts.yaml"), "hosts.yaml", str(tmp_path / "other.yaml")}
    monkeypatch.setattr(
        os, "access", lambda path, mode, **kw: str(path) not in denied and real_access(path, mode)
    )

    for args in (["pb.yaml", "--inventory", "hosts.yaml"], [str(tmp_path / "other.yaml")]):
        assert parse_run(["run", *args]) is None
        assert click_params(args) is None
    assert parse_run(["run", "pb.yaml", "--inventory", "missing.yaml"]) is not None


def test_an_inventory_from_the_environment_is_left_to_click(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    vocabulary(tmp_path)
    monkeypatch.setenv("RUNBOOK_INVENTORY", "hosts.yaml")

    assert parse_run(["run", "pb.yaml"]) is None
    assert parse_run(["plan", "pb.yaml"]) is None


def test_the_console_script_runs_a_playbook_without_importing_click(tmp_path: Path) -> None:
    # Nor typing_extensions, which msgspec would import (engine.lean_msgspec).
    code = (
        "import atexit, sys\n"
        "loaded = lambda: ('click' in sys.modules, 'typing_extensions' in sys.modules)\n"
        "atexit.register(lambda: print(loaded(), file=sys.stderr))\n"
        "from engine.cli.main import main\n"
        f"sys.argv = ['runbook', 'run', {str(DEMO)!r}, '-q']\n"
        "main()\n"
    )
    env = {**os.environ, "RUNBOOK_HOME": str(tmp_path), "RUNBOOK_PLAIN": "1"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
        cwd=ROOT, env=env, stdin=subprocess.DEVNULL, check=False,
    )  # fmt: skip

    assert "outcome:" in done.stdout, done.stdout + done.stderr
    assert done.stderr.strip().splitlines()[-1] == "(False, False)"


def test_msgspec_loads_without_typing_extensions_and_works_the_same() -> None:
    code = (
        "import sys\n"
        "from engine.lean_msgspec import import_msgspec\n"
        "import_msgspec()\n"
        "lean = 'typing_extensions' not in sys.modules\n"
        "import msgspec\n"
        "class Step(msgspec.Struct, frozen=True):\n"
        "    id: str\n"
        "    tags: 'list[str]' = []\n"
        'step = msgspec.json.decode(b\'{"id": "s1", "tags": ["a"]}\', type=Step)\n'
        "print(lean, step, msgspec.json.encode(step).decode())\n"
        "import typing_extensions\n"  # the block lasted only while msgspec loaded
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[0] == (
        'True Step(id=\'s1\', tags=[\'a\']) {"id":"s1","tags":["a"]}'
    )
