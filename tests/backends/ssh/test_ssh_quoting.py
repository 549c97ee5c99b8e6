"""The author's quoting does not matter over SSH either: every hostile payload
(`quoting_corpus`) in every way a playbook may write a value (`playbooks/ssh/quoting.yaml`)
arrives on a real sshd as itself, the marker file never appears, and what `runbook plan`
shows is byte for byte what the remote shell received."""

from __future__ import annotations

import json
import os
import shlex
import shutil
from pathlib import Path

from quoting_corpus import PAYLOADS, SELF_SCRIPT, every_payload, payload, shown_by_the_shell
from run_fixtures import (
    current_env,
    run_env,  # noqa: F401  (autouse fixture)
    runbook,
)
from sshd_fixtures import SshServer, ssh_playbook


def test_no_payload_runs_on_the_remote_host_and_plan_shows_what_runs(
    sshd: SshServer, remote_dir: Path
) -> None:
    inventory = sshd.inventory(current_env().work / "inventory.yaml")
    written, inputs = every_payload(ssh_playbook("quoting.yaml"), remote_dir)
    path = Path(shutil.move(written, current_env().work))  # a playbook only we may write
    if os.geteuid() == 0:  # the SSH user writes into them
        for folder in remote_dir.iterdir():
            shutil.chown(folder, sshd.user, sshd.user)
    args = ("--inventory", str(inventory), *inputs)

    planned = runbook("plan", str(path), *args, "-o", "json")
    ran = runbook("run", str(path), *args, timeout=300)

    assert planned.returncode == 0, planned.stdout + planned.stderr
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert [*sshd.home.rglob("MARKER-*"), *current_env().work.rglob("MARKER-*")] == []
    shown = {step["id"]: step["command"] for step in json.loads(planned.stdout)["steps"]}
    for index, template in enumerate(PAYLOADS):
        value = payload(template, f"{remote_dir}/MARKER-{index}")
        folder = remote_dir / f"p{index}"
        received = {
            "bare": value,
            "double": f"<{value}>",
            "substitution": f"{value}.",
            "loop": f"{value}|{value}|",
            "positional": value,
            "env": value,
        }
        read = {n: (folder / f"{n}.out").read_bytes().decode() for n in received}
        assert read == received, index
        assert shown[f"self_{index}"] == "ssh box: " + shown_by_the_shell(folder), index
        assert shown[f"self_{index}"].endswith("\n" + SELF_SCRIPT), index
        argv = ["sh", "-c", 'printf \'%s\' "$1" > "$2"', "sh", value, f"{folder}/positional.out"]
        assert shown[f"positional_{index}"] == "ssh box: " + shlex.join(argv), index
