"""The README's promises: its example playbook is valid, its commands exist, and the
exit codes it documents are the ones the engine uses."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tree import REPO

from engine.core.outcome import Outcome

ROOT = REPO
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _yaml_blocks() -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", README, flags=re.S)


def test_readme_example_playbook_is_valid(tmp_path: Path) -> None:
    from engine.playbook.loader import check_file

    playbook = next(block for block in _yaml_blocks() if "kind: Playbook" in block)
    path = tmp_path / "example.yaml"
    path.write_text(playbook, encoding="utf-8")
    report = check_file(str(path))
    assert report.ok(strict=True), [f.render() for f in report.findings]


def test_readme_exit_code_table_matches_outcomes() -> None:
    rows = re.findall(r"^\| (\d+) \| `(\w+)`(?: / `(\w+)`)? \|", README, flags=re.M)
    documented = {name: int(code) for code, *names in rows for name in names if name}
    for outcome in Outcome:
        if outcome is Outcome.INTERRUPTED:
            continue
        assert documented[outcome.value] == int(outcome.exit_code), outcome


def test_every_command_in_the_readme_table_exists() -> None:
    names = set(re.findall(r"^\| `runbook (\w+)", README, flags=re.M))
    help_text = subprocess.run(
        [sys.executable, "-m", "engine", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for name in names:
        assert re.search(rf"^\s+{name}\s", help_text, flags=re.M), name


def test_version_option() -> None:
    from engine import __version__

    out = subprocess.run(
        [sys.executable, "-m", "engine", "--version"], capture_output=True, text=True, check=True
    ).stdout
    assert __version__ in out
