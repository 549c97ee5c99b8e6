"""Loading secrets, handing them to child processes, and redacting them everywhere."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from engine.errors import ExitCode
from engine.playbook.model import SecretSpec
from engine.secrets import Redactor, SecretError, load_secrets, secret_env

CANARY = "c4nary-Secret-Value"


def test_secrets_come_from_the_environment_or_a_file_relative_to_the_playbook(
    tmp_path: Path,
) -> None:
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "token").write_text(CANARY + "\n")
    (tmp_path / "crlf").write_bytes(b"pass word\r\n")
    (tmp_path / "two").write_text("line1\nline2\n\n")
    specs = {
        "api": SecretSpec("api", env="API_KEY"),
        "token": SecretSpec("token", file="keys/token"),
        "crlf": SecretSpec("crlf", file="crlf"),
        "two": SecretSpec("two", file=str(tmp_path / "two")),
    }
    loaded = load_secrets(specs, tmp_path, {"API_KEY": "k3y!"})
    assert loaded == {"api": "k3y!", "token": CANARY, "crlf": "pass word", "two": "line1\nline2\n"}


def test_every_missing_secret_is_named_together_without_values(tmp_path: Path) -> None:
    (tmp_path / "empty").write_text("\n")
    (tmp_path / "binary").write_bytes(CANARY.encode() + b"\xff\xfe")
    specs = {
        "a": SecretSpec("a", env="NOT_SET"),
        "b": SecretSpec("b", env="EMPTY"),
        "c": SecretSpec("c", file="missing.txt"),
        "d": SecretSpec("d", file="empty"),
        "e": SecretSpec("e", file="binary"),
        "f": SecretSpec("f", env="FINE"),
    }
    with pytest.raises(SecretError) as caught:
        load_secrets(specs, tmp_path, {"EMPTY": "", "FINE": CANARY})
    error = caught.value
    assert error.exit_code is ExitCode.USAGE
    assert error.message.splitlines() == [
        "secret 'a': environment variable NOT_SET is not set",
        "secret 'b': environment variable EMPTY is empty",
        f"secret 'c': cannot read file {tmp_path / 'missing.txt'}: No such file or directory",
        f"secret 'd': file {tmp_path / 'empty'} is empty",
        f"secret 'e': file {tmp_path / 'binary'} is not UTF-8 text",
    ]
    assert CANARY not in error.render()
    assert error.__cause__ is None


def test_secret_env_names_the_variables_for_child_processes() -> None:
    env = secret_env({"api_token": CANARY, "db": "x"})
    assert env == {"RUNBOOK_SECRET_API_TOKEN": CANARY, "RUNBOOK_SECRET_DB": "x"}
    done = subprocess.run(
        ["/bin/sh", "-c", 'test "$RUNBOOK_SECRET_API_TOKEN" = "$1"', "sh", CANARY],
        env={**os.environ, **env},
        check=False,
    )
    assert done.returncode == 0


def test_redact_replaces_every_occurrence_also_inside_words() -> None:
    redactor = Redactor({"token": CANARY, "pin": "1234"})
    text = f"Authorization: Bearer {CANARY}\nurl=https://u:{CANARY}@h/?pin=12345 x{CANARY}y"
    assert redactor.redact(text) == (
        "Authorization: Bearer «redacted:token»\n"
        "url=https://u:«redacted:token»@h/?pin=«redacted:pin»5 x«redacted:token»y"
    )


def test_the_longest_secret_wins_over_one_it_contains() -> None:
    redactor = Redactor({"short": "abcd", "long": "abcdefgh"})
    assert redactor.redact("abcdefgh abcd") == "«redacted:long» «redacted:short»"


@pytest.mark.parametrize("value", ["it's a secret", 'quo"te\\back', "new\nline", "ünï €", "tab\tx"])
def test_quoted_and_escaped_forms_are_redacted(value: str) -> None:
    redactor = Redactor({"s": value})
    for form in (
        shlex.quote(value),
        json.dumps(value),
        json.dumps(value, ensure_ascii=False),
        repr(value),
        json.dumps({"k": [value]}),
    ):
        assert value not in redactor.redact(form)
        assert "«redacted:s»" in redactor.redact(form)
    assert value not in redactor.redact(shlex.join(["curl", "-u", value]))


def test_short_values_are_redacted_too_and_empty_ones_ignored() -> None:
    redactor = Redactor({"one": "q", "none": ""})
    assert redactor.redact("quiq") == "«redacted:one»ui«redacted:one»"
    assert not Redactor({"none": ""})


def test_redact_data_walks_dicts_lists_and_tuples() -> None:
    redactor = Redactor({"t": CANARY})
    data = {"out": [f"got {CANARY}", (CANARY, 3)], CANARY: None, "n": 1.5}
    assert redactor.redact_data(data) == {
        "out": ["got «redacted:t»", ("«redacted:t»", 3)],
        "«redacted:t»": None,
        "n": 1.5,
    }


def test_without_secrets_text_and_data_pass_through_unchanged() -> None:
    redactor = Redactor({})
    data = {"a": ["b"]}
    assert not redactor
    assert redactor.redact("text") == "text"
    assert redactor.redact_data(data) is data
    assert redactor.secret_in("text") is None


def test_secret_in_names_the_secret_found() -> None:
    redactor = Redactor({"a": "alpha-1", "b": "beta-22"})
    assert redactor.secret_in("x beta-22 y") == "b"
    assert redactor.secret_in("nothing here") is None


@given(secret=st.text(min_size=1), before=st.text(), after=st.text())
def test_a_redacted_text_never_contains_the_secret(secret: str, before: str, after: str) -> None:
    marker = "«redacted:s»"
    assume(secret not in marker and "«" not in secret and "»" not in secret)
    redactor = Redactor({"s": secret})
    assert secret not in redactor.redact(before + secret + after)
    assert secret not in redactor.redact(before + json.dumps(secret) + shlex.quote(secret))


@pytest.mark.timeout(10)
def test_a_secret_file_that_is_a_fifo_is_refused_without_waiting(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "token")
    with pytest.raises(SecretError) as caught:
        load_secrets({"t": SecretSpec("t", file="token")}, tmp_path, {})
    assert f"cannot read file {tmp_path / 'token'}: not a regular file but a FIFO" in str(
        caught.value.render()
    )
