"""The place of each value in a shell script: safe references, refused places, and the
programs whose arguments are code."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from engine.core.shellsyntax import (
    SLOT,
    Place,
    ShellCommand,
    Unsafe,
    analyse,
    code_arguments,
    compose,
    stdin_program,
)

S = SLOT


@pytest.mark.parametrize(
    ("script", "places"),
    [
        (f"echo {S}", ["bare"]),
        (f'echo "a {S} b" x{S}y', ["double", "bare"]),
        (f'echo $(echo {S} "{S}") "$(printf %s {S})"', ["bare", "double", "bare"]),
        (f"# a comment {S}\necho ok", ["bare"]),
        (f'echo "len=${{#X}} mark #}} {{# tail" {S}', ["bare"]),
        (f"case {S} in a) echo {S};; esac", ["bare", "bare"]),
        (f"f() {{ echo {S}; }}; f", ["bare"]),
        (f"X={S} cmd > /tmp/{S}.out 2>&1", ["bare", "bare"]),
        (f"cat <<'EOF'\n$HOME 'x'\nEOF\necho {S}", ["bare"]),
        (f'cat <<-EOF\n\tbody\n\tEOF\necho "{S}"', ["double"]),
        (f"sh -c 'echo \"$1\"' sh {S}", ["bare"]),
        (f"awk -v v={S} '{{ print v }}' {S}", ["bare", "bare"]),
        (f"ssh -p 22 {S} uptime", ["bare"]),
        (f"[ {S} -eq 1 ] && echo ok", ["bare"]),
        (f"echo {S} # it's fine", ["bare"]),
    ],
)
def test_values_outside_quotes_or_in_double_quotes_are_safe(script: str, places: list[str]) -> None:
    analysis = analyse(script)
    assert analysis.unsafe == ()
    assert [str(place) for place in analysis.places] == places


@pytest.mark.parametrize(
    ("script", "where"),
    [
        (f"echo '{S}'", "inside '…'"),
        (f"echo $'{S}'", "inside $'…'"),
        (f"echo `{S}`", "inside backquotes"),
        (f'echo "`cat {S}`"', "inside backquotes"),
        (f"echo ${{X:-{S}}}", "inside ${…}"),
        (f"cat <<EOF\n{S}\nEOF", "in a here-document"),
        (f"cat <<'EOF'\nx {S}\nEOF", "in a here-document"),
        (f"cat <<{S}\nx\n", "in a here-document"),
        (f"echo $(( {S} + 1 ))", "in shell arithmetic"),
        (f"(( {S} > 1 ))", "in shell arithmetic"),
        (f"let n={S}", "in shell arithmetic"),
        (f"[[ {S} -eq 1 ]]", "inside [[ ]]"),
        (f"[[ a && {S} -eq 1 ]]", "inside [[ ]]"),
        (f'sh -c "echo {S}"', "in code that `sh` runs"),
        (f'bash -euc "{S}"', "in code that `bash` runs"),
        (f'sudo -u x /bin/dash -c "ls {S}"', "in code that `dash` runs"),
        (f'kubectl exec pod -- sh -c "ls {S}"', "in code that `sh` runs"),
        (f'python3 -c "print({S})"', "in code that `python` runs"),
        (f'perl -e "print {S}"', "in code that `perl` runs"),
        (f'node --eval "{S}"', "in code that `node` runs"),
        (f'awk "/{S}/"', "in code that `awk` runs"),
        (f'sed -e "s/{S}/x/" f', "in code that `sed` runs"),
        (f'psql -c "select {S}"', "in code that `psql` runs"),
        (f"eval echo {S}", "in the words of `eval`"),
        (f"ssh -p 22 host rm {S}", "in the remote command of `ssh`"),
        (f'watch "ls {S}"', "in code that `watch` runs"),
    ],
)
def test_places_no_quoting_keeps_data_are_refused(script: str, where: str) -> None:
    unsafe = analyse(script).unsafe
    assert [u.where for u in unsafe] == [where]
    assert unsafe[0].hint
    assert unsafe[0].offset == script.index(S)


def test_code_arguments_name_the_program_that_runs_them() -> None:
    assert code_arguments(["sh", "-e", "-c", "x", "sh", "a"]) == {3: "sh"}
    assert code_arguments(["bash", "-o", "pipefail", "-c", "x"]) == {4: "bash"}
    assert code_arguments(["python3.12", "-u", "-c", "x", "a"]) == {3: "python"}
    assert code_arguments(["perl", "-e", "x"]) == {2: "perl"}
    assert code_arguments(["python3", "-cprint(1)"]) == {1: "python"}
    assert code_arguments(["env", "A=1", "sh", "script.sh", "x"]) == {}
    assert code_arguments(["awk", "-f", "prog.awk", "x"]) == {}
    assert code_arguments(["awk", "-F", ":", "{print}", "f"]) == {3: "awk"}
    assert code_arguments(["ssh", "-o", "A=b", "host", "ls", "x"]) == {4: "ssh", 5: "ssh"}
    assert code_arguments(["printf", "%s", "x"]) == {}


def test_a_program_given_no_script_reads_its_stdin_as_code() -> None:
    reads = [["sh"], ["bash", "-s", "x"], ["/bin/bash", "-e"], ["python3", "-"], ["psql", "db"]]
    assert [stdin_program(words) for words in reads] == ["sh", "bash", "bash", "python", "psql"]
    data = [["bash", "-c", "x"], ["sh", "run.sh"], ["python3", "x.py"], ["psql", "-c", "x"]]
    assert [stdin_program(words) for words in [*data, ["tee", "f"], ["ssh", "h"], []]] == [None] * 7


def test_compose_writes_references_and_keeps_the_values_aside(tmp_path: Path) -> None:
    value = "a'b\"c $(touch PWNED) `x` ${IFS} *"
    command = compose(f'printf "%s|" {S} "<{S}>"', [value, value])
    assert command == ShellCommand(
        'printf "%s|" "${RUNBOOK_V1}" "<${RUNBOOK_V2}>"',
        (("RUNBOOK_V1", value), ("RUNBOOK_V2", value)),
    )
    env = {"PATH": os.environ["PATH"], **command.env}
    done = subprocess.run(command.argv, cwd=tmp_path, env=env, capture_output=True, check=True)
    assert done.stdout.decode() == f"{value}|<{value}>|"
    assert not (tmp_path / "PWNED").exists()
    refused = compose(f"echo '{S}'", ["x"])
    assert isinstance(refused, Unsafe) and refused.slot == 0


def test_shown_is_the_values_then_the_script() -> None:
    command = ShellCommand('echo "${RUNBOOK_V1}"', (("RUNBOOK_V1", "a b"),))
    assert command.shown() == "RUNBOOK_V1='a b'\necho \"${RUNBOOK_V1}\""
    assert ShellCommand("uptime").shown() == "uptime"
    assert Place.DOUBLE == "double"
