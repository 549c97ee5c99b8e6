"""Loading secrets, handing them to child processes, and redacting them everywhere."""

from __future__ import annotations

import base64
import json
import os
import shlex
import urllib.parse
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from engine.core.errors import ExitCode
from engine.core.output_cuts import line_cut, tail_cut
from engine.model.playbook import SecretSpec
from engine.run.context.secrets import (
    SecretError,
    declared_scrubber,
    declared_secrets,
    held_secrets,
    load_secrets,
    secrets_scrubber,
)
from engine.templating.redaction import Redactor

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


PEM = (
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n"
    "MzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDuictGeurT8jNbvJZHtCSuYEvu\n"
    "-----END PRIVATE KEY-----"
)


def test_each_line_of_a_multi_line_secret_is_redacted_but_not_its_armour() -> None:
    redactor = Redactor({"key": PEM})
    body = PEM.splitlines()[1:3]
    for line in body:
        assert redactor.redact(f"> {line} <") == "> «redacted:key» <"
    assert redactor.redact(PEM.splitlines()[0]) == PEM.splitlines()[0]


@pytest.mark.parametrize("before", [b"", b"x", b"xy"])
@pytest.mark.parametrize("encode", [base64.b64encode, base64.urlsafe_b64encode])
def test_base64_of_a_secret_inside_a_longer_encoding_is_redacted(
    before: bytes, encode: Callable[[bytes], bytes]
) -> None:
    encoded = encode(before + CANARY.encode() + b"tail").decode()
    shown = Redactor({"c": CANARY}).redact(encoded)
    assert "«redacted:c»" in shown
    recovered = base64.urlsafe_b64decode(shown.replace("«redacted:c»", "AAAA") + "====")
    assert CANARY.encode() not in recovered


@pytest.mark.parametrize(
    "form",
    [
        urllib.parse.quote(CANARY + "/?&", safe=""),
        (CANARY + "/?&").encode().hex(),
        (CANARY + "/?&").encode().hex().upper(),
        "".join(f"\\u{ord(char):04x}" for char in CANARY + "/?&"),
    ],
)
def test_url_hex_and_unicode_escaped_forms_are_redacted(form: str) -> None:
    assert Redactor({"c": CANARY + "/?&"}).redact(f"a={form}&b=1") == "a=«redacted:c»&b=1"


def test_the_part_of_a_secret_left_beside_an_output_cut_is_redacted() -> None:
    redactor = Redactor({"c": CANARY})
    tail = tail_cut(20, CANARY[7:] + " and the rest")
    assert redactor.redact(tail).endswith("…]\n«redacted:c, cut» and the rest")
    line = line_cut("start " + CANARY[:9], 1000)
    assert redactor.redact(line).startswith("start «redacted:c, cut» […")
    assert redactor.redact(tail_cut(20, "unrelated text")).endswith("unrelated text")


@pytest.mark.timeout(10)
def test_a_secret_file_that_is_a_fifo_is_refused_without_waiting(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "token")
    with pytest.raises(SecretError) as caught:
        load_secrets({"t": SecretSpec("t", file="token")}, tmp_path, {})
    assert f"cannot read file {tmp_path / 'token'}: not a regular file but a FIFO" in str(
        caught.value.render()
    )


def test_the_scrubber_of_declared_secrets_reads_env_and_file_and_skips_what_is_not_set(
    tmp_path: Path,
) -> None:
    (tmp_path / "key").write_text("fileKey-" + CANARY + "\n")
    declared = {
        "token": {"env": "SCRUB_TOKEN"},
        "key": {"file": "key"},
        "unset": {"env": "SCRUB_UNSET"},
        "odd": "not a mapping",
    }
    specs = declared_secrets(declared)
    token = CANARY + "/+&= x"

    scrub = secrets_scrubber(specs, tmp_path, {"SCRUB_TOKEN": token}, {"held": "held-value-1"})

    assert sorted(specs) == ["key", "token", "unset"]
    text = " ".join([
        token, base64.b64encode(token.encode()).decode(), urllib.parse.quote(token, safe=""),
        urllib.parse.quote_plus(token), "fileKey-" + CANARY, "held-value-1",
    ])  # fmt: skip
    assert scrub.redact(text) == " ".join(
        ["«redacted:token»"] * 4 + ["«redacted:key»", "«redacted:held»"]
    )
    assert declared_secrets(None) == {} and declared_secrets(["token"]) == {}


def test_one_scrub_of_several_playbooks_keeps_each_value_and_says_what_it_could_not_read(
    tmp_path: Path,
) -> None:
    (tmp_path / "key.txt").write_text("file-value-1\n")
    first = {"token": SecretSpec("token", env="FIRST_TOKEN", file=None)}
    second = {
        "token": SecretSpec("token", env="SECOND_TOKEN", file=None),
        "key": SecretSpec("key", env=None, file="key.txt"),
        "gone": SecretSpec("gone", env="NOT_SET_HERE", file=None),
    }
    environ = {"FIRST_TOKEN": "value-one", "SECOND_TOKEN": "value-two"}

    scrub, statuses = declared_scrubber(
        [(first, tmp_path), (second, tmp_path)], environ, {"service": "held-input"}
    )

    text = "value-one value-two file-value-1 held-input " + base64.b64encode(b"value-two").decode()
    assert scrub.redact(text) == (
        "«redacted:token» «redacted:token#2» «redacted:key» «redacted:service» «redacted:token#2»"
    )
    assert [(s.name, s.source, bool(s.problem)) for s in statuses] == [
        ("token", "env FIRST_TOKEN", False),
        ("token", "env SECOND_TOKEN", False),
        ("key", "file key.txt", False),
        ("gone", "env NOT_SET_HERE", True),
    ]


CASED = "canary-Secret-9f3e"


@pytest.mark.parametrize(
    "form",
    [
        CASED.upper(),
        CASED.lower(),
        CASED.title(),
        CASED.swapcase(),
        urllib.parse.quote(CASED.upper(), safe=""),
        base64.b64encode(CASED.upper().encode()).decode(),
        base64.b64encode(CASED.lower().encode()).decode(),
    ],
)
def test_a_secret_upper_or_lower_cased_by_a_template_is_redacted(form: str) -> None:
    redactor = Redactor({"token": CASED})

    redacted = redactor.redact(f"token={form};")

    assert redacted == "token=«redacted:token»;"
    assert redactor.secret_in(form) == "token"


def test_a_mark_is_not_redacted_again_for_a_secret_in_another_case() -> None:
    redactor = Redactor({"one": "e"})

    assert redactor.redact("hEllo e") == "h«redacted:one»llo «redacted:one»"


def test_the_values_an_alert_gave_inputs_the_ledger_kept_redacted_are_held_once_each() -> None:
    runs = [
        ({"token": "«redacted:token»", "pod": "web-1"}, {"token": "held-1", "pod": "web-1"}),
        ({"token": ["«redacted:token»"]}, {"token": "held-2"}),
        ({"key": "«redacted:key»"}, {"key": "held-1"}),
        ({"gone": "«redacted:gone»"}, {}),
    ]

    held = held_secrets(runs)

    assert held == {"token": "held-1", "token#2": "held-2"}
    scrub, _ = declared_scrubber([], {}, held)
    assert scrub.redact("held-1 held-2 web-1") == "«redacted:token» «redacted:token#2» web-1"
