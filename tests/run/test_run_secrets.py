"""A canary secret pushed through success, failure, timeout and rollback paths reaches
the child process and appears nowhere else: terminal, ledger bytes, show, runs; the
variable it was read from reaches no step and no probe."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import uuid

import pytest
from run_fixtures import (
    REPO,
    Env,
    current_env,
    ledger_bytes,
    lines,
    playbook,
    run_env,  # noqa: F401  (autouse fixture)
    run_id_of,
    runbook,
)


def _canary() -> str:
    return f"Canary-{uuid.uuid4().hex}"


def _assert_nowhere(canary: str, env: Env, run_ids: list[str], *outputs: str) -> None:
    for text in outputs:
        assert canary not in text
    assert canary.encode() not in ledger_bytes(env)
    views = [runbook("runs"), runbook("runs", "--output", "json")]
    for run_id in run_ids:
        views += [runbook("show", run_id), runbook("show", run_id, "--output", "json")]
    for view in views:
        assert view.returncode == 0, view.stderr
        assert canary not in view.stdout + view.stderr
    assert canary not in "".join(
        p.read_text(errors="replace") for p in env.home.rglob("*.log") if p.is_file()
    )


@pytest.mark.parametrize(
    ("mode", "exit_code", "outcome"),
    [("fail", 4, "rollback_failed"), ("timeout", 1, "failed"), ("ok", 0, "completed")],
)
@pytest.mark.parametrize("output", ["text", "json"])
def test_the_canary_reaches_the_child_and_appears_nowhere_else(
    mode: str, exit_code: int, outcome: str, output: str
) -> None:
    env = current_env()
    canary = _canary()
    extra = {"CANARY_TOKEN": canary}

    ran = runbook(
        "run",
        playbook("secret.yaml"),
        "-i",
        f"dir={env.work}",
        "-i",
        f"mode={mode}",
        "--output",
        output,
        extra_env=extra,
    )

    assert ran.returncode == exit_code, ran.stdout + ran.stderr
    assert (env.work / "child-saw").read_text() == canary  # it did reach the command
    assert f'"outcome": "{outcome}"' in ran.stdout or f"outcome: {outcome}" in ran.stdout
    assert "redacted:token" in ran.stdout  # the output was there, redacted
    if mode != "ok":
        assert (env.work / "undo-saw").read_text() == canary  # the undo got it too
    run_id = run_id_of(ran.stdout) if output == "text" else _json_run_id(ran.stdout)
    _assert_nowhere(canary, env, [run_id], ran.stdout, ran.stderr)


def _json_run_id(stdout: str) -> str:
    import json

    first = json.loads(stdout.splitlines()[0])
    return str(first["run_id"])


def test_the_canary_stays_hidden_in_a_later_rollback() -> None:
    env = current_env()
    canary = _canary()
    extra = {"CANARY_TOKEN": canary}
    ran = runbook(
        "run",
        playbook("secret.yaml"),
        "-i",
        f"dir={env.work}",
        "-i",
        "mode=ok",
        extra_env=extra,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    run_id = run_id_of(ran.stdout)

    rolled = runbook("rollback", "--yes", run_id, extra_env=extra)

    assert rolled.returncode == 0, rolled.stdout + rolled.stderr
    assert (env.work / "undo-saw").read_text() == canary
    assert "undo stdout «redacted:token»" in rolled.stdout
    _assert_nowhere(
        canary, env, [run_id, run_id_of(rolled.stdout)], ran.stdout, rolled.stdout, rolled.stderr
    )


def test_a_missing_secret_is_an_error_before_step_1_that_names_only_the_variable() -> None:
    env = current_env()

    ran = runbook("run", playbook("secret.yaml"), "-i", f"dir={env.work}", "-i", "mode=ok")

    assert ran.returncode == 2, ran.stdout + ran.stderr
    assert "CANARY_TOKEN is not set" in ran.stderr
    assert list(env.work.iterdir()) == []


def test_the_variable_a_secret_is_read_from_reaches_no_step_and_no_probe(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = current_env()
    monkeypatch.setenv("CANARY_TOKEN", _canary())
    ran = runbook("run", playbook("secret-source.yaml"), "-i", f"dir={env.work}")
    assert ran.returncode == 3, ran.stdout + ran.stderr  # the probe never says healthy
    seen = lines(env.work / "seen")
    assert "step:given" in seen  # its own `env:` hands the step the secret
    assert [line for line in seen if "inherited" in line] == []
    assert seen.count("probe:") >= 2  # before and after the step


def test_a_multi_line_secret_its_encodings_and_a_cut_secret_appear_nowhere() -> None:
    env = current_env()
    key_lines = [_canary() + "/" + _canary() for _ in range(3)]
    key = "\n".join(["-----BEGIN PRIVATE KEY-----", *key_lines, "-----END PRIVATE KEY-----"])
    token = _canary()
    ran = runbook(
        "run",
        playbook("secret-forms.yaml"),
        "--output",
        "json",
        extra_env={"CANARY_KEY": key, "CANARY_TOKEN": token},
    )
    assert ran.returncode == 0, ran.stderr
    run_id = json.loads(ran.stdout.splitlines()[-1])["run_id"]
    forms = [
        *key_lines,
        base64.b64encode(key.encode()).decode()[8:-8],
        key.encode().hex()[8:-8],
        token[-12:],  # what the 64 KiB cut of the output tail left of the token
    ]
    for form in forms:
        _assert_nowhere(form, env, [run_id], ran.stdout, ran.stderr)
    shown = runbook("show", run_id, "--output", "json")
    (result,) = [e for e in json.loads(shown.stdout)["events"] if e["kind"] == "step_result"]
    assert "characters kept …]\n«redacted:token, cut»xxx" in result["data"]["output"]


# Two runs prepared under one error handler, each with its own secret, then an error or
# a crash whose message quotes both (as a bug could).
ERROR_AFTER_TWO_RUNS = """\
import sys
from engine.cli.error_handler import error_handler
from engine.core.errors import RefusedError
from engine.run.preflight import RunRequest, prepare

playbook, work, how, *secrets = sys.argv[1:]
with error_handler() as redactions:
    for number, secret in enumerate(secrets):
        environ = {"CANARY_TOKEN": secret}
        inputs = {"dir": work, "mode": "ok"}
        request = RunRequest(playbook, inputs, environ=environ, redactions=redactions)
        prepare(request, f"r{number}", "live")
    quoted = " and ".join(secrets)
    if how == "crash":
        raise RuntimeError(f"a crash that quotes {quoted}")
    raise RefusedError(f"an error that quotes {quoted}", f"not {quoted}")
"""


@pytest.mark.parametrize(("how", "exit_code"), [("crash", 70), ("error", 5)])
def test_a_secret_of_any_run_under_an_error_handler_is_redacted_from_its_line_and_crash_log(
    how: str, exit_code: int
) -> None:
    env = current_env()
    secrets = [_canary(), _canary()]
    command = [sys.executable, "-c", ERROR_AFTER_TWO_RUNS, playbook("secret.yaml")]
    done = subprocess.run(
        [*command, str(env.work), how, *secrets], capture_output=True, text=True, cwd=REPO
    )

    assert done.returncode == exit_code, done.stderr
    assert "quotes «redacted:token» and «redacted:token»" in done.stderr
    logs = list((env.home / "logs").glob("*.log")) if how == "crash" else []
    assert len(logs) == (how == "crash")
    for log in logs:
        assert "RuntimeError: a crash that quotes «redacted:token» and" in log.read_text()
    for secret in secrets:
        _assert_nowhere(secret, env, [], done.stdout, done.stderr)


PLAN_UNDER_REDACTIONS = """\
import sys
from engine.cli.app import cli
from engine.core.redactions import Redactions

playbook, work, secret = sys.argv[1:]
redactions = Redactions()
try:
    argv = ["plan", playbook, "-i", f"dir={work}", "-i", "mode=ok"]
    cli.main(argv, prog_name="runbook", standalone_mode=False, obj=redactions)
except SystemExit:
    pass
print(redactions(f"afterwards: {secret}"))
"""


def test_a_command_registers_its_runs_secrets_with_the_error_handler_it_is_given() -> None:
    env = current_env()
    secret = _canary()
    command = [sys.executable, "-c", PLAN_UNDER_REDACTIONS, playbook("secret.yaml")]
    done = subprocess.run(
        [*command, str(env.work), secret],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "CANARY_TOKEN": secret},
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "afterwards: «redacted:token»"


TWO_RUNS_IN_ONE_PROCESS = """\
import sys
from engine.modes.run import run_playbook
from engine.run.preflight import RunRequest

work = sys.argv[3]
for playbook in sys.argv[1:3]:
    run_playbook(RunRequest(playbook, {"dir": work}))
"""


def test_withholding_belongs_to_the_run_that_read_the_secret() -> None:
    """Two runs in one process (as `runbook serve` makes them): the variable the first
    run's secret came from is withheld from its commands, not from the next playbook's,
    which declares no secret and inherits the engine's environment as it is."""
    env = current_env()
    books = [playbook("secret-source.yaml"), playbook("plain-env.yaml")]
    done = subprocess.run(
        [sys.executable, "-c", TWO_RUNS_IN_ONE_PROCESS, *books, str(env.work)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "CANARY_TOKEN": _canary()},
    )

    assert done.returncode == 0, done.stderr
    seen = lines(env.work / "seen")
    assert "step:given" in seen
    assert "plain:inherited" in seen
