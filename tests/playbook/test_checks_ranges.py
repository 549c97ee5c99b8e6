"""Ranges whose two ends are the wrong way round (engine.playbook.checks); the corpus
in tests/playbooks/invalid/ has the errors, these are the edges and the warning."""

from __future__ import annotations

import pytest

from engine.playbook.loader import check_file

HEAD = """apiVersion: runbook/v1
kind: Playbook
metadata: {name: ranges, version: 1.0.0, maturity: 2, owner: sre}
sli:
  probe: {command: {run: "echo 3"}}
  healthy: {between: [3, 3]}
"""
STEP = """steps:
  - id: look
    readonly: true
    shell: {run: uptime}
"""


def findings(text: str) -> list[str]:
    report = check_file("ranges.yaml", text=text)
    return [f"{f.severity}: {f.path}: {f.message}" for f in report.findings]


def test_a_range_of_one_value_and_an_unused_backoff_are_fine() -> None:
    assert findings(HEAD + STEP + "    retry: {attempts: 1, backoff: 5m}\n") == []


INJECT = """  inject:
    - id: break
      shell: {run: "true"}
      undo: {shell: {run: "true"}}
"""
LATE = (
    "warning: drill.recover_within: recover_within 1m00s is not longer than detect_within"
    " {}: a fault detected late cannot be recovered in time"
)


@pytest.mark.parametrize(
    ("within", "detect"),
    [
        ("  recover_within: 2m\n", None),
        ("  detect_within: 5m\n  recover_within: 1m\n", "5m00s"),
        ("  recover_within: 60s\n", "1m00s"),  # the default detect_within is 60s
    ],
)
def test_recovery_due_before_detection_is_a_warning(within: str, detect: str | None) -> None:
    text = HEAD + STEP + "drill:\n" + within + INJECT
    assert findings(text) == ([LATE.format(detect)] if detect else [])
