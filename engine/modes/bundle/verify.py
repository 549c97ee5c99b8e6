"""Opening a bundle as untrusted input: read in memory under limits, every member checked
against `SHA256SUMS` (and the manifest's own list) before anything in it is believed."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import msgspec
from msgspec import Struct

from engine.core.errors import RefusedError, UsageError
from engine.core.events import EventKind, read_payload
from engine.core.regular_file import read_regular
from engine.modes.bundle.archive import TOTAL_LIMIT, BundleRefused, read_archive, safe_name, sha256
from engine.modes.bundle.export import CHECKSUMS, EVENTS, MANIFEST, PARTS, PLAYBOOK
from engine.modes.bundle.manifest import FORMAT, FORMAT_VERSION


class PlaybookFacts(Struct, frozen=True):
    """The manifest's playbook of a run, as replay reads it."""

    name: str
    version: str
    file: str
    content_hash: str
    maturity: int | None = None


class RunFacts(Struct, frozen=True):
    """The manifest's facts of a run that replay reads (it holds more)."""

    run_id: str
    mode: str
    outcome: str
    inputs: dict[str, Any]
    playbook: PlaybookFacts


class EventLine(Struct, frozen=True):
    """One line of `events.jsonl`."""

    seq: int
    ts: float
    kind: str
    step_id: str | None
    data: dict[str, Any]


_SUM_LINE = re.compile(r"([0-9a-f]{64}) [ *](.+)")
REQUIRED = (MANIFEST, EVENTS)


class Bundle(Struct, frozen=True):
    """A verified bundle: its manifest, the facts and events of the run to judge, and the
    playbook text the run recorded ("" when it recorded none)."""

    path: str
    members: list[str]
    manifest: dict[str, Any]
    run: RunFacts
    events: list[EventLine]
    playbook_text: str
    contents: dict[str, bytes]

    def part(self, run_id: str) -> Bundle:
        """A drill's part run as a bundle of its own; BundleRefused when the bundle does
        not hold it."""
        parts = self.manifest.get("parts")
        found = [
            part.get("run")
            for part in (parts if isinstance(parts, list) else [])
            if isinstance(part, dict)
            and isinstance(part.get("run"), dict)
            and part["run"].get("run_id") == run_id
        ]
        prefix = f"{PARTS}/{run_id}/"
        if not found or f"{prefix}{EVENTS}" not in self.contents:
            raise BundleRefused(prefix, "the drill's run is not in the bundle")
        manifest = {**self.manifest, "run": found[0], "trigger": None}
        return Bundle(
            self.path,
            self.members,
            manifest,
            _typed(MANIFEST, found[0], RunFacts),
            _events(f"{prefix}{EVENTS}", self.contents[f"{prefix}{EVENTS}"]),
            self.contents.get(f"{prefix}{PLAYBOOK}", b"").decode("utf-8", "replace"),
            self.contents,
        )


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
    run = _typed(MANIFEST, manifest.get("run"), RunFacts)
    events = _events(EVENTS, members[EVENTS])
    text = members.get(PLAYBOOK, b"").decode("utf-8", "replace")
    return Bundle(path, sorted(members), manifest, run, events, text, dict(members))


def _events(name: str, data: bytes) -> list[EventLine]:
    """The events of `name`, each with the fields of its kind (a kind this engine does
    not know is kept as it is)."""
    events = []
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        event = _typed(f"{name} line {number}", _json_object(name, line), EventLine)
        if event.kind in _KINDS and read_payload(event.kind, event.data) is None:
            problem = f"line {number}: a {event.kind} event without the fields of its kind"
            raise BundleRefused(name, problem)
        events.append(event)
    return events


_KINDS = frozenset(kind.value for kind in EventKind)
_T = TypeVar("_T")


def _typed(name: str, value: Any, kind: type[_T]) -> _T:
    try:
        return msgspec.convert(value, kind)
    except msgspec.ValidationError as exc:
        raise BundleRefused(name, f"not what replay reads: {exc}") from None


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
    file = bundle.run.playbook.file
    return Path(file) if file else None
