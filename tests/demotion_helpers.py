"""Playbooks for the tests of automatic demotion: one whose runs fail or recover at the
flip of a switch file, and a second step that fails after a first whose undo fails."""

from __future__ import annotations

from pathlib import Path

from serve_fixtures import write_playbook

# The fix makes the SLI healthy only while the switch file exists: without it the run
# ends not_recovered.
SWITCHED = "test -f {switch} && touch {markers}/fixed-{{{{ inputs.service }}}} || true"
_THEN_FAIL = """\
  - id: then_fail
    timeout: 30s
    shell: {run: "exit 3"}
    undo: {shell: {run: "true"}}
"""


def switched_playbook(work: Path, name: str = "fix-service") -> tuple[Path, Path]:
    """A level-3 playbook (serve_fixtures) under `work` whose runs end recovered while
    the switch file exists, else not_recovered (its SLI gives up after 1s)."""
    switch = work / "switch"
    action = SWITCHED.format(switch=switch, markers=work / "markers")
    path = write_playbook(work / "playbooks", work / "markers", action=action, name=name)
    path.write_text(path.read_text().replace("interval: 100ms", "interval: 100ms\n  timeout: 1s"))
    return path, switch


def rollback_failing_playbook(work: Path) -> Path:
    """A level-3 playbook under `work` whose runs end rollback_failed: its first step's
    undo fails after its second step failed."""
    path = write_playbook(work / "playbooks", work / "markers", action="true", extra=_THEN_FAIL)
    text = path.read_text().replace('undo: {shell: {run: "rm', 'undo: {shell: {run: "exit 4; rm')
    path.write_text(text)
    return path
