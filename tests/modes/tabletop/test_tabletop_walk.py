"""What a tabletop shows of each step beyond the plan's line: a manual step's whole
instructions and its `expect:`, the environment, stdin, headers and body a step would
send (a secret as its placeholder, never read), the description rendered with the inputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.modes.tabletop.report import step_text
from engine.modes.tabletop.walk import Walk, prepare_walk

CANARY = "walk-canary-s3cr3t"

PLAYBOOK = """\
apiVersion: runbook/v1
kind: Playbook
metadata: {name: walk-test, version: 1.0.0, maturity: 2, owner: tests}
inputs:
  host: {type: string, default: db1}
secrets:
  token: {env: WALK_TOKEN}
steps:
  - id: failover
    description: Move the writes of {{ inputs.host }} to the replica.
    manual:
      instructions: |
        Fail over {{ inputs.host }}:
        - [ ] tell #ops
        - [ ] run:
        ```
        pg_ctl promote -D /srv/{{ inputs.host }}
        ```
      expect: the replica of {{ inputs.host }} answers writes
    undo:
      manual:
        instructions: |
          Fail back to {{ inputs.host }}.
          Then re-seed the replica.
        expect: "{{ inputs.host }} answers writes again"
  - id: drain
    readonly: true
    shell:
      run: ["true"]
      env: {TOKEN: "{{ secrets.token }}", TARGET: "{{ inputs.host }}"}
      stdin: "drain {{ inputs.host }}"
  - id: remote
    readonly: true
    ssh:
      host: "{{ inputs.host }}"
      run: ["true"]
      env: {PASSWORD: "{{ secrets.token }}"}
  - id: flag
    http:
      url: http://127.0.0.1:9/flag
      method: PUT
      headers: {Authorization: "Bearer {{ secrets.token }}"}
      json: {host: "{{ inputs.host }}", enabled: false}
    undo:
      http:
        url: http://127.0.0.1:9/flag
        method: PUT
        body: "host={{ inputs.host }}&token={{ secrets.token }}"
drill:
  inject:
    - id: break
      shell:
        run: ["true"]
        env: {TOKEN: "{{ secrets.token }}", TARGET: "{{ inputs.host }}"}
      undo: {shell: {run: ["true"]}}
"""


@pytest.fixture
def walk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Walk:
    monkeypatch.setenv("WALK_TOKEN", CANARY)  # a run would read it; a tabletop must not
    path = tmp_path / "walk.yaml"
    path.write_text(PLAYBOOK, encoding="utf-8")
    return prepare_walk(str(path), {"host": "db7"}, tmp_path / "home", None)


def _shown(walk: Walk) -> dict[str, str]:
    total = len(walk.steps)
    return {s.planned.id: step_text(s, i, total) for i, s in enumerate(walk.steps, 1)}


def test_a_manual_step_shows_its_whole_instructions_and_its_expect(walk: Walk) -> None:
    failover = _shown(walk)["failover"]

    assert "  what:    Move the writes of db7 to the replica." in failover
    assert (
        "  instructions:\n"
        "           Fail over db7:\n"
        "           - [ ] tell #ops\n"
        "           - [ ] run:\n"
        "           ```\n"
        "           pg_ctl promote -D /srv/db7\n"
    ) in failover
    assert "  expect:  the replica of db7 answers writes" in failover
    assert (
        "  undo instructions:\n           Fail back to db7.\n           Then re-seed the replica."
    ) in failover
    assert "  undo expect:\n           db7 answers writes again" in failover


def test_the_env_stdin_headers_and_body_are_shown_with_secrets_as_placeholders(
    walk: Walk,
) -> None:
    shown = _shown(walk)

    assert "  env:\n           TOKEN=«secret:token»\n           TARGET=db7" in shown["drain"]
    assert "  stdin:   drain db7" in shown["drain"]
    assert "  env:     PASSWORD=«secret:token»" in shown["remote"]
    assert (
        "  headers:\n           Authorization: Bearer «secret:token»\n"
        "           Content-Type: application/json"
    ) in shown["flag"]
    assert '"host": "db7"' in shown["flag"]
    assert "  undo body:\n           host=db7&token=«secret:token»" in shown["flag"]
    assert all(CANARY not in text for text in shown.values())


def test_the_json_report_holds_the_details_apart_from_the_plan(walk: Walk) -> None:
    drain = walk.steps[1]
    flag = walk.steps[3]

    assert {d.label: d.text for d in drain.details} == {
        "env": "TOKEN=«secret:token»\nTARGET=db7",
        "stdin": "drain db7",
    }
    assert json.loads(dict(flag.details)["body"]) == {"host": "db7", "enabled": False}
    assert walk.steps[0].description == "Move the writes of db7 to the replica."


def test_the_drill_s_steps_show_what_they_would_send_too(walk: Walk) -> None:
    assert walk.drill[1:4] == [
        "inject break: true",
        "  env: TOKEN=«secret:token»",
        "    TARGET=db7",
    ]
