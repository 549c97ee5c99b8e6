"""Untrusted values over SSH: shell metacharacters, newlines and template syntax in an
input arrive on the remote host as one literal argument (or env value), in string
commands, argv lists and captures. A marker file that must never appear proves it."""

from __future__ import annotations

from pathlib import Path

import pytest
from run_fixtures import (
    current_env,
    events,
    run_env,  # noqa: F401  (autouse fixture)
    run_id_of,
    runbook,
)
from sshd_fixtures import SshServer, ssh_playbook

PAYLOADS = {
    "semicolon": "x; touch PWNED",
    "subshell": "$(touch PWNED)",
    "backticks": "`touch PWNED`",
    "newline": "x\ntouch PWNED",
    "template": "{{ 7*7 }}",
    "quotes": "'; touch PWNED; echo '\"; touch PWNED; \"",
    "everything": "a; touch PWNED $(touch PWNED) `touch PWNED`\n{{ 7*7 }} && touch PWNED &",
}
OUTPUTS = ["as_string", "as_argv", "as_env", "capture_in_string"]


@pytest.mark.parametrize("value", list(PAYLOADS.values()), ids=list(PAYLOADS))
def test_metacharacters_arrive_as_one_literal_argument_over_ssh(
    sshd: SshServer, remote_dir: Path, value: str
) -> None:
    inventory = sshd.inventory(current_env().work / "inventory.yaml")

    ran = runbook(
        "run", ssh_playbook("injection.yaml"), "--inventory", str(inventory),
        "-i", f"dir={remote_dir}", "-i", f"evil={value}",
    )  # fmt: skip

    assert ran.returncode == 0, ran.stdout + ran.stderr
    pwned = [*sshd.home.rglob("PWNED"), *current_env().work.rglob("PWNED")]
    assert pwned == []
    expected = {name: value for name in OUTPUTS} | {"capture_in_string": value.strip()}
    for name, wanted in expected.items():
        assert (remote_dir / f"{name}.out").read_text() == wanted, name
    values = {
        e["step_id"]: e["data"]["value"] for e in events(run_id_of(ran.stdout), "step_result")
    }
    assert values["echo_back"] == value.strip()


def test_a_byte_that_is_not_utf8_arrives_as_itself_over_ssh(
    sshd: SshServer, remote_dir: Path
) -> None:
    # argv keeps the byte 0xE9 as U+DCE9; sending it once ended in an internal error.
    inventory = sshd.inventory(current_env().work / "inventory.yaml")

    ran = runbook(
        "run", ssh_playbook("injection.yaml"), "--quiet", "--inventory", str(inventory),
        "-i", f"dir={remote_dir}", "-i", "evil=caf\udce9",
    )  # fmt: skip

    assert ran.returncode == 0, ran.stdout + ran.stderr
    for name in ("as_string", "as_argv", "as_env"):
        assert (remote_dir / f"{name}.out").read_bytes() == b"caf\xe9", name


@pytest.mark.parametrize(
    ("what", "message"),
    [
        ("v", "command: a value holds '\\ud800', which cannot be encoded for a command"),
        ("nul", "command: a value holds a NUL character, which no command can be given"),
    ],
)
def test_a_value_no_host_can_be_sent_fails_the_step_before_connecting(
    sshd: SshServer, remote_dir: Path, what: str, message: str
) -> None:
    inventory = sshd.inventory(current_env().work / "inventory.yaml")
    logins = sshd.logins()

    ran = runbook(
        "run", ssh_playbook("unsendable.yaml"), "--inventory", str(inventory),
        "-i", f"dir={remote_dir}", "-i", f"what={what}",
    )  # fmt: skip

    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert "internal error" not in ran.stderr
    assert message in ran.stdout
    assert sshd.logins() == logins  # no connection was made
    assert list(remote_dir.iterdir()) == []
