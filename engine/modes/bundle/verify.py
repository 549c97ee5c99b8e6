"""Opening a bundle as untrusted input: read in memory under limits, every member checked
against `SHA256SUMS` (and the manifest's own list) before anything in it is believed."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from msgspec import Struct

from engine.core.errors import RefusedError, UsageError
from engine.core.regular_file import read_regular
from engine.modes.bundle.archive import TOTAL_LIMIT, BundleRefused, read_archive, safe_name, sha256
from engine.modes.bundle.export import CHECKSUMS, EVENTS, MANIFEST, PARTS, PLAYBOOK
from engine.modes.bundle.manifest import FORMAT, FORMAT_VERSION

_SUM_LINE = re.compile(r"([0-9a-f]{64}) [ *](.+)")
REQUIRED = (MANIFEST, EVENTS)


class Bundle(Struct, frozen=True):
    """A verified bundle: its manifest, the run's events in order, and the playbook text
    the run recorded ("" when it recorded none)."""

    path: str
    members: list[str]
    manifest: dict[str, Any]
    events: list[dict[str, Any]]
    playbook_text: str
    contents: dict[str, bytes]

    def part(self, run_id: str) -> tuple[dict[str, Any], list[dict[str, Any]], str]:
        """A drill's part run: its facts in the manifest, its events, its playbook text;
        BundleRefused when the bundle does not hold it."""
        parts = self.manifest.get("parts")
        facts = next(
            (
                part["run"]
                for part in (parts if isinstance(parts, list) else [])
                if isinstance(part, dict) and part.get("run", {}).get("run_id") == run_id
            ),
            None,
        )
        prefix = f"{PARTS}/{run_id}/"
        if facts is None or f"{prefix}{EVENTS}" not in self.contents:
            raise BundleRefused(prefix, "the drill's run is not in the bundle")
        events = _json_lines(f"{prefix}{EVENTS}", self.contents[f"{prefix}{EVENTS}"])
        text = self.contents.get(f"{prefix}{PLAYBOOK}", b"").decode("utf-8", "replace")
        return facts, events, text


def open_bundle(path: str) -> Bundle:
    """The bundle at `path`, verified: UsageError (exit 2) when the file cannot be read,
    RefusedError (exit 5) for a bundle not as exported, naming the member."""
    members = read_archive(path, _read(path))
    _verify(members)
    manifest = _json_object(MANIFEST, members[MANIFEST])
    if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
        raise BundleRefused(
            MANIFEST, f"not a {FORMAT} of version {FORMAT_VERSION} (this engine reads that one)"
        )
    events = _json_lines(EVENTS, members[EVENTS])
    text = members.get(PLAYBOOK, b"").decode("utf-8", "replace")
    return Bundle(path, sorted(members), manifest, events, text, dict(members))


def _json_lines(name: str, data: bytes) -> list[dict[str, Any]]:
    return [_json_object(name, line) for line in data.splitlines() if line.strip()]


def _read(path: str) -> bytes:
    try:
        data = read_regular(path, TOTAL_LIMIT)
    except FileNotFoundError:
        hint = "give the .tar.gz `runbook export` wrote"
        raise UsageError(f"{path}: no such file", hint) from None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > TOTAL_LIMIT:
        raise RefusedError(
            f"{path} is over {TOTAL_LIMIT} bytes: refused unread",
            "a bundle `runbook export` writes is far smaller; this one is not one of ours",
        )
    return data


def _verify(members: Mapping[str, bytes]) -> None:
    """Every member listed in SHA256SUMS with its hash, no member missing or extra, and
    the manifest's list of files the same."""
    if CHECKSUMS not in members:
        raise BundleRefused(CHECKSUMS, "it is missing: nothing in the bundle can be verified")
    listed = _checksums(members[CHECKSUMS])
    for name in sorted(members):
        if name != CHECKSUMS and name not in listed:
            raise BundleRefused(name, f"it is not listed in {CHECKSUMS} (an extra member)")
    for name, digest in sorted(listed.items()):
        if name not in members:
            raise BundleRefused(name, f"it is listed in {CHECKSUMS} but missing")
        if sha256(members[name]) != digest:
            raise BundleRefused(name, f"its sha256 is not the one {CHECKSUMS} lists: it changed")
    for name in REQUIRED:
        if name not in members:
            raise BundleRefused(name, "it is missing")
    files = _json_object(MANIFEST, members[MANIFEST]).get("files")
    expected = {name: digest for name, digest in listed.items() if name != MANIFEST}
    if files != expected:
        raise BundleRefused(MANIFEST, f"its list of files disagrees with {CHECKSUMS}")


def _checksums(text: bytes) -> dict[str, str]:
    listed: dict[str, str] = {}
    for number, line in enumerate(text.decode("utf-8", "replace").splitlines(), start=1):
        found = _SUM_LINE.fullmatch(line)
        if found is None:
            raise BundleRefused(CHECKSUMS, f"line {number} is not `SHA256  NAME`")
        name = safe_name(found.group(2))
        if name == CHECKSUMS or name in listed:
            raise BundleRefused(CHECKSUMS, f"line {number} lists {name!r} again")
        listed[name] = found.group(1)
    return listed


def _json_object(name: str, data: bytes) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except ValueError as exc:
        raise BundleRefused(name, f"not JSON ({exc})") from None
    if not isinstance(value, dict):
        raise BundleRefused(name, "not a JSON object")
    return value


def recorded_file(bundle: Bundle) -> Path | None:
    """The playbook file the run recorded, if the manifest names one."""
    playbook = bundle.manifest.get("run", {}).get("playbook", {})
    file = playbook.get("file") if isinstance(playbook, dict) else None
    return Path(file) if isinstance(file, str) and file else None
