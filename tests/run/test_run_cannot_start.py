"""A step whose command cannot start fails like any failed step (rolled back, exit 1),
never as an internal error; text stdout's encoding cannot hold is shown, not lost."""

from __future__ import annotations

import codecs
import os
import subprocess

import pytest
from run_fixtures import (
    current_env,
    engine_command,
    events,
    playbook,
    run_env,  # noqa: F401  (autouse fixture)
    run_id_of,
    runbook,
)

from engine.ui.stdout_text import ERROR_HANDLER, escape_unencodable

REASONS = {
    "missing_program": ("broken", "cannot start `no-such-program-anywhere`: no such program"),
    "bad_interpreter": ("broken_script", "/script exists but cannot be run: No such file"),
    "missing_cwd": ("broken_cwd", "cannot start `true`: No such file or directory: "),
    "unencodable": ("broken_value", "cannot start `touch`: a value holds '\\ud800'"),
    "nul": ("broken_nul", "cannot start `echo`: a value cannot be given to a command: "),
}


@pytest.mark.parametrize("how", sorted(REASONS))
def test_a_step_that_cannot_start_fails_and_the_run_rolls_back(how: str) -> None:
    work = current_env().work
    step, reason = REASONS[how]
    script = work / "script"  # on PATH or not, the kernel cannot run it
    script.write_text("#!/no/such/interpreter\necho ran\n")
    script.chmod(0o755)

    ran = runbook("run", playbook("cannot-start.yaml"), "-i", f"dir={work}", "-i", f"how={how}")

    assert ran.returncode == 1, ran.stdout + ran.stderr  # failed, rolled back
    assert "internal error" not in ran.stderr and "Traceback" not in ran.stderr
    assert reason in ran.stdout
    assert sorted(os.listdir(work)) == ["first", "first-undone", "script"]  # undone, no more
    (result,) = [e for e in events(run_id_of(ran.stdout), "step_result") if e["step_id"] == step]
    assert result["data"]["status"] == "failed"
    assert reason in result["data"]["message"]


def test_text_a_strict_stdout_cannot_encode_is_shown_not_lost() -> None:
    # Python's stdout is strict under a UTF-8 locale such as en_US.UTF-8 (this machine
    # may only have C.UTF-8, where it is lenient): PYTHONIOENCODING forces strict.
    work = current_env().work
    env = {**os.environ, "PYTHONIOENCODING": "utf-8:strict"}
    argv = engine_command(
        "run", playbook("cannot-start.yaml"), "-i", f"dir={work}", "-i", "how=unencodable"
    )
    # argv keeps the byte 0xE9, which is not UTF-8, as U+DCE9.
    argv_byte = engine_command(
        "run", playbook("injection.yaml"), "-i", f"dir={work}", "-i", "evil=caf\udce9"
    )

    ran = subprocess.run(argv, env=env, capture_output=True, stdin=subprocess.DEVNULL)
    ran_byte = subprocess.run(argv_byte, env=env, capture_output=True, stdin=subprocess.DEVNULL)

    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert b"display failed" not in ran.stderr
    assert b"\xe2\x86\x92 broken_value: touch " in ran.stdout  # the intent line was shown
    assert b"\\ud800" in ran.stdout  # escaped
    assert ran_byte.returncode == 0, ran_byte.stdout + ran_byte.stderr
    assert b"display failed" not in ran_byte.stderr
    assert b"\xe2\x86\x92 as_argv: sh -c " in ran_byte.stdout
    assert b"caf\xe9" in ran_byte.stdout  # the byte given, given back


def test_the_escape_gives_back_bytes_and_escapes_the_rest() -> None:
    codecs.register_error(ERROR_HANDLER, escape_unencodable)  # as tolerate_unencodable does
    text = "caf\udce9 \ud800 \u2713"

    assert text.encode("utf-8", ERROR_HANDLER) == b"caf\xe9 \\ud800 \xe2\x9c\x93"
    assert text.encode("ascii", ERROR_HANDLER) == b"caf\xe9 \\ud800 \\u2713"
    with pytest.raises(UnicodeDecodeError):
        escape_unencodable(UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid"))


def test_an_env_name_a_shell_could_not_export_still_reaches_a_local_command() -> None:
    # Only an empty name, `=` or NUL cannot be given to a process (the invalid corpus
    # has `A=B`); an ssh step exports its env in a shell, so it takes variable names only.
    work = current_env().work
    path = work / "env-name.yaml"
    path.write_text(
        "apiVersion: runbook/v1\n"
        "kind: Playbook\n"
        "metadata: {name: env-name, version: 1.0.0, maturity: 2, owner: tests}\n"
        "steps:\n"
        "  - id: show\n"
        "    readonly: true\n"
        "    shell:\n"
        '      run: ["env"]\n'
        '      env: {"my-tool.level": "3"}\n'
        '      expect: {stdout_contains: "my-tool.level=3"}\n'
    )

    ran = runbook("run", str(path))

    assert ran.returncode == 0, ran.stdout + ran.stderr
