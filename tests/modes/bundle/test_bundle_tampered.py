"""A bundle is untrusted input: `runbook replay` verifies every member against
`SHA256SUMS` first and reads the archive in memory under limits, refusing (exit 5, naming
the member) a changed, missing or extra member, a name outside the bundle, a link, and a
decompression bomb; nothing is written to disk."""

from __future__ import annotations

import gzip
import hashlib
import json
import tarfile
from pathlib import Path

from bundle_helpers import consistent, members, recovered_run, refused, regular, rewrite
from sli_helpers import run_cli


def tampered(bundle: Path, change: dict[str, bytes | None]) -> Path:
    """`bundle` written again beside it with members replaced (None: removed)."""
    found = members(bundle)
    for name, data in change.items():
        if data is None:
            del found[name]
        else:
            found[name] = data
    target = bundle.with_name("tampered.tar.gz")
    rewrite(bundle, target, [(regular(name), data) for name, data in sorted(found.items())])
    return target


def test_a_changed_member_is_refused_by_name(tmp_path: Path) -> None:
    _, bundle = recovered_run(tmp_path)
    events = members(bundle)["events.jsonl"].replace(b"succeeded", b"failed", 1)
    stderr = refused(tampered(bundle, {"events.jsonl": events}))
    assert "'events.jsonl'" in stderr and "sha256" in stderr and "hint:" in stderr


def test_a_missing_member_and_an_extra_one_are_refused(tmp_path: Path) -> None:
    _, bundle = recovered_run(tmp_path)
    stderr = refused(tampered(bundle, {"sli.jsonl": None}))
    assert "'sli.jsonl'" in stderr and "missing" in stderr
    stderr = refused(tampered(bundle, {"notes.txt": b"hello"}))
    assert "'notes.txt'" in stderr and "not listed" in stderr
    stderr = refused(tampered(bundle, {"SHA256SUMS": None}))
    assert "'SHA256SUMS'" in stderr


def test_rewritten_checksums_do_not_hide_a_change_from_the_manifest(tmp_path: Path) -> None:
    _, bundle = recovered_run(tmp_path)
    found = members(bundle)
    found["sli.jsonl"] = b""
    sums = "".join(
        f"{hashlib.sha256(data).hexdigest()}  {name}\n"
        for name, data in sorted(found.items())
        if name != "SHA256SUMS"
    )
    stderr = refused(tampered(bundle, {"sli.jsonl": b"", "SHA256SUMS": sums.encode()}))
    assert "'manifest.json'" in stderr and "disagrees" in stderr


def test_names_outside_the_bundle_and_links_are_refused(tmp_path: Path) -> None:
    _, bundle = recovered_run(tmp_path)
    found = members(bundle)
    infos = [(regular(name), data) for name, data in sorted(found.items())]
    for name in ("../escape.txt", "/etc/passwd", "a/../b"):
        target = tmp_path / "bad.tar.gz"
        rewrite(bundle, target, [*infos, (regular(name), b"x")])
        assert repr(name) in refused(target)
        assert not (tmp_path / "escape.txt").exists()
    link = tarfile.TarInfo("events.jsonl")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    target = tmp_path / "link.tar.gz"
    rewrite(bundle, target, [*[i for i in infos if i[0].name != "events.jsonl"], (link, b"")])
    assert "'events.jsonl'" in refused(target) and "regular file" in refused(target)


def test_a_decompression_bomb_is_refused_unread(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.tar.gz"
    bomb.write_bytes(gzip.compress(bytes(200 * 1024 * 1024), compresslevel=9))
    assert bomb.stat().st_size < 1024 * 1024
    stderr = refused(bomb)
    assert "inflates to over" in stderr


def test_a_file_that_is_not_a_bundle_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not a bundle at all")
    assert "not a readable bundle" in refused(junk)


def test_text_from_a_bundle_reaches_the_terminal_as_data(tmp_path: Path) -> None:
    _, bundle = recovered_run(tmp_path)
    found = members(bundle)
    manifest = json.loads(found["manifest.json"])
    manifest["run"]["run_id"] = "r1\x1b[2J\x1b]0;owned\x07"
    found["manifest.json"] = json.dumps(manifest).encode()
    done = run_cli("replay", str(tampered(bundle, consistent(found))))
    assert done.returncode == 0, done.stdout + done.stderr  # consistent, so believed
    assert "\x1b" not in done.stdout and "\x07" not in done.stdout
    assert "replay of run r1\\x1b[2J" in done.stdout


def test_a_consistent_bundle_of_the_wrong_shape_is_refused(tmp_path: Path) -> None:
    _, bundle = recovered_run(tmp_path)
    found = members(bundle)
    manifest = json.loads(found["manifest.json"])
    manifest["run"]["inputs"] = ["not", "a", "mapping"]
    wrong = {**found, "manifest.json": json.dumps(manifest).encode()}
    stderr = refused(tampered(bundle, consistent(wrong)))
    assert "'manifest.json'" in stderr and "inputs" in stderr

    lines = found["events.jsonl"].decode().splitlines()
    number, line = next((n, e) for n, e in enumerate(lines, 1) if '"step_result"' in e)
    event = json.loads(line)
    del event["data"]["status"]
    lines[number - 1] = json.dumps(event)
    wrong = {**found, "events.jsonl": "\n".join(lines).encode() + b"\n"}
    stderr = refused(tampered(bundle, consistent(wrong)))
    assert "'events.jsonl'" in stderr and f"line {number}: a step_result event" in stderr
