"""Untrusted values never become code: shell metacharacters and template syntax in
inputs and captures arrive literally, in string commands and in argv lists."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
from run_fixtures import (
    current_env,
    events,
    ledger_bytes,
    playbook,
    run_env,  # noqa: F401  (autouse fixture)
    run_id_of,
    runbook,
    runs_json,
)

PAYLOADS = {
    "semicolon": "x; touch PWNED",
    "subshell": "$(touch PWNED)",
    "backticks": "`touch PWNED`",
    "newline": "x\ntouch PWNED",
    "template": "{{ 7*7 }}",
    "quotes": "'; touch PWNED; echo '\"; touch PWNED; \"",
    "everything": "a; touch PWNED $(touch PWNED) `touch PWNED`\n{{ 7*7 }} {% raw %}|| touch PWNED",
}
OUTPUTS = [
    "as_string",
    "as_argv",
    "capture_in_string",
    "capture_in_argv",
    "json_in_string",
    "json_in_env",
]


def _pwned(*folders: Path) -> list[Path]:
    return [p for folder in folders for p in folder.rglob("PWNED")]


@pytest.mark.parametrize("value", list(PAYLOADS.values()), ids=list(PAYLOADS))
def test_metacharacters_and_template_syntax_arrive_literally(value: str) -> None:
    env = current_env()
    work = env.work

    ran = runbook(
        "run", playbook("injection.yaml"), "-i", f"dir={work}", "-i", f"evil={value}", cwd=work
    )

    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert _pwned(work, env.home.parent) == []
    for name in OUTPUTS:
        received = (work / f"{name}.out").read_text()
        assert received == value, name
    assert "49" not in "".join((work / f"{name}.out").read_text() for name in OUTPUTS)
    run_id = run_id_of(ran.stdout)
    values = {e["step_id"]: e["data"]["value"] for e in events(run_id, "step_result")}
    assert values["echo_back"] == value.strip()
    assert values["json_back"] == {"v": value}


def test_the_plan_shows_values_quoted_and_literal() -> None:
    work = current_env().work
    value = PAYLOADS["everything"]

    shown = runbook(
        "plan", playbook("injection.yaml"), "-i", f"dir={work}", "-i", f"evil={value}", "-o", "json"
    )

    assert shown.returncode == 0, shown.stdout + shown.stderr
    steps = {s["id"]: s for s in json.loads(shown.stdout)["steps"]}
    command = steps["as_string"]["command"]
    # The shown command, split as /bin/sh would: the value, ONE literal word (not
    # rendered: no 49), is given to the script in the environment, never written into it.
    assert shlex.split(command)[:5] == [
        f"RUNBOOK_V1={value}",
        f"RUNBOOK_V2={work}",
        "printf",
        "%s",
        "${RUNBOOK_V1}",
    ]
    assert _pwned(work) == []


@pytest.mark.parametrize(
    "value", ["-rf", "--force", "-"], ids=["short-option", "long-option", "dash"]
)
def test_a_value_starting_with_a_dash_is_refused_before_step_1(value: str) -> None:
    work = current_env().work

    ran = runbook(
        "run", playbook("injection.yaml"), "--quiet", "-i", f"dir={work}", "-i", f"evil={value}"
    )

    assert ran.returncode == 2, ran.stdout + ran.stderr
    assert "starts with '-'" in ran.stderr
    assert "Traceback" not in ran.stderr
    assert list(work.iterdir()) == []
    assert runs_json() == []


@pytest.mark.parametrize("name", ["escape-cycler.yaml", "escape-dunder.yaml"])
def test_a_sandbox_escape_in_a_playbook_is_an_error_before_step_1(name: str) -> None:
    work = current_env().work

    ran = runbook("run", playbook(name), "-i", f"dir={work}")

    assert ran.returncode == 2, ran.stdout + ran.stderr
    # The error names the offending template (file:line), not a crash.
    assert f"{name}:12:" in ran.stderr
    assert "Traceback" not in ran.stderr + ran.stdout
    assert "internal error" not in ran.stderr
    assert not (work / "first-ran").exists()
    assert runs_json() == []


def test_an_input_with_a_byte_that_is_not_utf8_reaches_the_command_and_the_ledger() -> None:
    # argv keeps an undecodable byte as a lone surrogate; the ledger once failed to store
    # it (an internal error before step 1).
    work = current_env().work
    value = "caf\udce9"  # the byte 0xE9 on the command line

    ran = runbook(
        "run", playbook("injection.yaml"), "--quiet", "-i", f"dir={work}", "-i", f"evil={value}"
    )

    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert (work / "as_string.out").read_bytes() == b"caf\xe9"
    assert (work / "as_argv.out").read_bytes() == b"caf\xe9"
    (run,) = runs_json()
    assert run["status"] == "completed"
    assert b'"evil":"caf\\udce9"' in ledger_bytes(current_env())  # recorded, escaped
