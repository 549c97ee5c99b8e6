"""The author's quoting does not matter: a value never becomes code, through the real CLI.

Every hostile payload (`quoting_corpus`) goes through every way a playbook may write a
value (`playbooks/run/quoting.yaml`): it arrives as itself and the marker file never
appears. What `runbook plan` shows is byte for byte what the shell received (the command
records its own argv and environment). Templates where no quoting keeps a value data are
refused before step 1 at `file:line:col`, and Jinja comment syntax is shell text.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from quoting_corpus import (
    DASHED,
    PAYLOADS,
    SELF_SCRIPT,
    every_payload,
    payload,
    shown_by_the_shell,
)
from run_fixtures import (
    current_env,
    events,
    playbook,
    run_env,  # noqa: F401  (autouse fixture)
    run_id_of,
    runbook,
    runs_json,
)

HEADER = """\
apiVersion: runbook/v1
kind: Playbook
metadata: {name: quoting-case, version: 1.0.0, maturity: 2, owner: tests}
inputs:
  dir: {type: string, pattern: '^/[A-Za-z0-9._/-]+$'}
  evil: {type: string, default: x, allow_leading_dash: true}
steps:
  - id: first
    shell: {run: "touch {{ inputs.dir }}/first-ran"}
    irreversible: a marker
"""


def _markers(marker: Path) -> list[Path]:
    env = current_env()
    found = [p for folder in (env.work, env.home.parent) for p in folder.rglob(marker.name)]
    return found + ([marker] if marker.exists() else [])


def _write(name: str, steps: str) -> Path:
    path = current_env().work.parent / name
    path.write_text(HEADER + steps)
    return path


def _received(work: Path, name: str) -> str:
    return (work / f"{name}.out").read_bytes().decode("utf-8", "surrogateescape")


def test_no_payload_runs_in_any_authoring_pattern_and_plan_shows_what_runs() -> None:
    work = current_env().work
    path, inputs = every_payload(playbook("quoting.yaml"), work)

    planned = runbook("plan", str(path), *inputs, "-o", "json")
    ran = runbook("run", str(path), *inputs, timeout=300)

    assert planned.returncode == 0, planned.stdout + planned.stderr
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert [p.name for p in work.parent.rglob("MARKER-*")] == []
    shown = {step["id"]: step["command"] for step in json.loads(planned.stdout)["steps"]}
    recorded = {e["step_id"]: e["data"]["command"] for e in events(run_id_of(ran.stdout))
                if e["kind"] == "step_intent"}  # fmt: skip
    assert recorded == shown  # the ledger records what plan shows
    for index, template in enumerate(PAYLOADS):
        value = payload(template, f"{work}/MARKER-{index}")
        folder = work / f"p{index}"
        received = {
            "bare": value,
            "double": f"<{value}>",
            "substitution": f"{value}.",
            "comment": "ok",
            "loop": f"{value}|{value}|",
            "argv": value,
            "positional": value,
            "env": value,
        }
        assert {name: _received(folder, name) for name in received} == received, index
        assert shown[f"self_{index}"] == shown_by_the_shell(folder), index
        assert shown[f"self_{index}"].endswith("\n" + SELF_SCRIPT), index  # value not in it
        positional = (folder / "positional.out.argv").read_bytes().decode().split("\0")[:-1]
        assert shown[f"positional_{index}"] == shlex.join(positional), index


@pytest.mark.parametrize("value", DASHED)
def test_a_value_starting_with_a_dash_is_refused_in_argv_lists_until_a_double_dash(
    value: str,
) -> None:
    work = current_env().work
    steps = """\
  - id: list
    readonly: true
    shell: {run: [ls, -d, "{{ inputs.evil }}"]}
"""
    path = _write("dash.yaml", steps)
    inputs = ("-i", f"dir={work}", "-i", f"evil={value}")

    ran = runbook("run", str(path), *inputs)

    assert ran.returncode == 2, ran.stdout + ran.stderr
    assert "a value inserted into an argv list starts with '-'" in ran.stderr
    assert "Traceback" not in ran.stderr
    assert list(work.iterdir()) == []
    assert runs_json() == []
    (work / value).write_text("")
    path.write_text(path.read_text().replace("-d, ", "-d, --, "))
    ran = runbook("run", str(path), *inputs, cwd=work)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert (work / "first-ran").exists()


REFUSED = {
    "single-quotes": ("run: \"echo '{{ inputs.evil }}'\"", "inside '…'"),
    "dollar-single-quotes": ("run: \"echo $'{{ inputs.evil }}'\"", "inside $'…'"),
    "backquotes": ('run: "echo `echo {{ inputs.evil }}`"', "inside backquotes"),
    "parameter": ('run: "echo ${X:-{{ inputs.evil }}}"', "inside ${…}"),
    "arithmetic": ('run: "echo $(( {{ inputs.evil }} ))"', "in shell arithmetic"),
    "double-brackets": ('run: "[[ {{ inputs.evil }} == x ]]"', "inside [[ ]]"),
    "heredoc": (
        "run: |\n        cat <<EOF\n        {{ inputs.evil }}\n        EOF",
        "in a here-document",
    ),
    "sh-c-string": ('run: "sh -c \\"echo {{ inputs.evil }}\\""', "in code that `sh` runs"),
    "sh-c-argv": ('run: [sh, -c, "echo {{ inputs.evil }}"]', "in code that `sh` runs"),
    "bash-c-positional-script": (
        'run: [bash, -c, "echo \\"$1\\" {{ inputs.evil }}", bash, x]',
        "in code that `bash` runs",
    ),
    "python-c-argv": (
        "run: [python3, -c, \"print('{{ inputs.evil }}')\"]",
        "in code that `python` runs",
    ),
    "stdin-of-a-shell": (
        'run: "sh -s"\n      stdin: "echo {{ inputs.evil }}"',
        "in the stdin of `sh`",
    ),
    "eval": ('run: "eval echo {{ inputs.evil }}"', "in the words of `eval`"),
    "ssh-remote": ('run: "ssh localhost echo {{ inputs.evil }}"', "in the remote command of `ssh`"),
}


@pytest.mark.parametrize("case", list(REFUSED), ids=list(REFUSED))
@pytest.mark.parametrize("template", ["; touch MARKER", "$(touch MARKER)"], ids=["semi", "subst"])
def test_a_template_no_quoting_keeps_data_is_refused_before_step_1(
    case: str, template: str
) -> None:
    work = current_env().work
    marker = work.parent / "MARKER-refused"
    run, where = REFUSED[case]
    steps = f"  - id: refused\n    readonly: true\n    shell:\n      {run}\n"
    path = _write(f"{case}.yaml", steps)
    inputs = ("-i", f"dir={work}", "-i", f"evil={payload(template, str(marker))}")

    ran = runbook("run", str(path), *inputs)
    planned = runbook("plan", str(path), *inputs)
    checked = runbook("validate", "--strict", str(path))

    for result, code in ((ran, 2), (planned, 2), (checked, 1)):
        output = result.stdout + result.stderr
        assert result.returncode == code, output
        assert re.search(rf"{re.escape(str(path))}:1[0-9]:[0-9]+: steps\[1\]\.shell\.", output)
        assert f"a template {where}: its value could run as code" in output, output
        assert "Traceback" not in output
    assert list(work.iterdir()) == []  # not even the first step ran
    assert _markers(marker) == []
    assert runs_json() == []


def test_jinja_comment_syntax_in_a_command_is_shell_text() -> None:
    work = current_env().work
    steps = """\
  - id: comments
    readonly: true
    shell:
      run: |
        X=abcd
        echo "len=${#X} mark #} tail=ok" > {{ inputs.dir }}/out
        echo "{# not a comment #}" >> {{ inputs.dir }}/out
"""
    ran = runbook("run", str(_write("comments.yaml", steps)), "-i", f"dir={work}")

    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert (work / "out").read_text() == "len=4 mark #} tail=ok\n{# not a comment #}\n"
