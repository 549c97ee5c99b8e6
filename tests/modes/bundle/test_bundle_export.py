"""`runbook export RUN_ID -o FILE.tar.gz`: a real run's bundle holds its manifest, every
event, the SLI samples and the recorded playbook text, each with a sha256 that
`sha256sum -c` verifies; it is written whole, private and byte for byte the same."""

from __future__ import annotations

import base64
import os
import subprocess
import tarfile
from pathlib import Path
from urllib.parse import quote

from bundle_helpers import jsonl, manifest, members
from run_fixtures import (
    current_env,
    events,
    run_env,  # noqa: F401  (autouse fixture)
    run_id_of,
    runbook,
    steps_playbook,
)

CANARY = "canary-9f3e1d7c-secret"
SECRET_STEPS = """\
- id: look
  readonly: true
  shell: {run: ["echo", "looked"], capture: seen}
- id: use
  shell:
    run: 'printf "%s\\n" "$T"; printf "%s" "$T" | base64; printf "x%sx" "$T" | base64'
    env: {T: "{{ secrets.token }}"}
  undo: {shell: {run: ["true"]}}
"""


def secret_playbook(folder: Path) -> str:
    path = Path(steps_playbook(folder, "canary", SECRET_STEPS))
    declared = "secrets:\n  token: {env: CANARY_TOKEN}\nsteps:\n"
    text = path.read_text().replace("steps:\n", declared, 1)
    path.write_text(text)
    return str(path)


def a_run(secret: str = CANARY) -> tuple[str, str]:
    """A completed run of the canary playbook: (run id, playbook file)."""
    work = current_env().work
    file = secret_playbook(work)
    ran = runbook("run", file, "-i", f"dir={work}", "--yes", extra_env={"CANARY_TOKEN": secret})
    assert ran.returncode == 0, ran.stdout + ran.stderr
    return run_id_of(ran.stdout), file


def export(run_id: str, bundle: Path, *args: str, secret: str | None = CANARY) -> str:
    env = {"CANARY_TOKEN": secret} if secret is not None else {}
    done = runbook("export", run_id, "-o", str(bundle), *args, extra_env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_a_bundle_holds_the_run_and_sha256sum_verifies_every_member(tmp_path: Path) -> None:
    run_id, file = a_run()
    bundle = tmp_path / "run.tar.gz"
    export(run_id, bundle)

    assert os.stat(bundle).st_mode & 0o777 == 0o600
    found = members(bundle)
    assert sorted(found) == [
        "SHA256SUMS",
        "events.jsonl",
        "manifest.json",
        "playbook.yaml",
        "sli.jsonl",
    ]
    with tarfile.open(bundle, "r:gz") as tar:
        infos = tar.getmembers()
    assert [i.name for i in infos] == sorted(found)
    assert {(i.mtime, i.uid, i.gid, i.mode, i.type) for i in infos} == {
        (0, 0, 0, 0o600, tarfile.REGTYPE)
    }

    unpacked = tmp_path / "unpacked"
    unpacked.mkdir()
    for name, data in found.items():
        (unpacked / name).write_bytes(data)
    checked = subprocess.run(
        ["sha256sum", "-c", "SHA256SUMS"], cwd=unpacked, capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.count(": OK") == 4  # every member but SHA256SUMS itself

    facts = manifest(bundle)
    assert facts["format_version"] == 1 and facts["kind"] == "run"
    assert set(facts["files"]) == {"events.jsonl", "playbook.yaml", "sli.jsonl"}
    run = facts["run"]
    assert run["run_id"] == run_id and run["outcome"] == "completed" and run["mode"] == "live"
    assert run["playbook"]["file"] == str(Path(file).resolve())
    assert run["playbook"]["name"] == "canary" and run["playbook"]["maturity"] == 2
    assert run["attempt"]["step_attempts"] == {"look": 1, "use": 1}
    assert facts["recorded_by"]["python"] == "unknown"  # the ledger does not say
    assert facts["exported_by"]["python"]
    assert [(t["type"], t["tool"]) for t in facts["tools"]] == [
        ("shell", "echo"),
        ("shell", "printf"),
    ]
    assert facts["secrets"]["declarations_read_from"] == {run_id: "recorded text"}
    assert {t["version"] for t in facts["tools"]} == {"unknown"}
    assert facts["approvals"]["approved_by"] == "test-operator"
    assert facts["trigger"] is None

    recorded = events(run_id)
    assert [e["seq"] for e in jsonl(bundle, "events.jsonl")] == [e["seq"] for e in recorded]
    assert found["playbook.yaml"].decode() == Path(file).read_text()


def test_an_export_is_deterministic_and_never_overwrites_without_force(tmp_path: Path) -> None:
    run_id, _ = a_run()
    first, second = tmp_path / "a.tar.gz", tmp_path / "b.tar.gz"
    export(run_id, first)
    export(run_id[:12], second)  # a unique prefix names the run
    assert first.read_bytes() == second.read_bytes()

    before = first.read_bytes()
    refused = runbook("export", run_id, "-o", str(first))
    assert refused.returncode == 2 and "--force" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert first.read_bytes() == before
    export(run_id, first, "--force")
    assert first.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_an_unknown_run_is_a_usage_error_and_writes_nothing(tmp_path: Path) -> None:
    a_run()
    bundle = tmp_path / "none.tar.gz"
    done = runbook("export", "r19990101T000000000-nosuch", "-o", str(bundle))
    assert done.returncode == 2 and "no run" in done.stderr and "runbook runs" in done.stderr
    assert not bundle.exists()


def forms(secret: str) -> list[bytes]:
    """The secret, its base64 (alone and inside a longer text) and its URL encoding."""
    inner = base64.b64encode(f"x{secret}x".encode()).decode()
    return [
        secret.encode(),
        base64.b64encode(secret.encode()),
        base64.b64encode(secret.encode()).rstrip(b"="),
        inner[4:-4].encode(),
        quote(secret, safe="").encode(),
    ]


def assert_no_canary(bundle: Path, secret: str = CANARY) -> None:
    raw = b"".join(members(bundle).values())
    for form in forms(secret):
        assert form not in raw, form


def test_the_secret_canary_is_in_no_member_read_back_or_not(tmp_path: Path) -> None:
    run_id, _ = a_run()
    step = [e for e in events(run_id, "step_result") if e["step_id"] == "use"]
    assert "«redacted:token»" in step[0]["data"]["output"]  # the run printed every form

    readable, unread = tmp_path / "readable.tar.gz", tmp_path / "unread.tar.gz"
    export(run_id, readable)
    export(run_id, unread, secret=None)  # the exporter cannot read the secret
    assert_no_canary(readable)
    assert_no_canary(unread)
    (declared,) = manifest(readable)["secrets"]["declared"]
    assert declared["name"] == "token" and declared["source"] == "env CANARY_TOKEN"
    assert declared["rescanned"] is True
    (declared,) = manifest(unread)["secrets"]["declared"]
    assert declared["rescanned"] is False and "not set" in declared["problem"]
    assert "never held them" in manifest(unread)["secrets"]["guarantee"]


def test_an_export_to_a_device_or_a_pipe_is_refused_also_with_force(tmp_path: Path) -> None:
    run_id, _ = a_run()
    link = tmp_path / "stdout"
    link.symlink_to(os.devnull)  # as /dev/stdout is a link to a device

    done = runbook("export", run_id, "-o", str(link), "--force")

    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith(f"error: cannot write {link}: it is a character device")
    assert link.is_symlink() and os.readlink(link) == os.devnull
