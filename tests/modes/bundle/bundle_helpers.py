"""Reading a replay bundle in tests, and rewriting one as an attacker or a bad disk would."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path
from typing import Any


def members(bundle: Path) -> dict[str, bytes]:
    """Every member of the bundle, by name."""
    with tarfile.open(bundle, "r:gz") as tar:
        found = {}
        for info in tar:
            extracted = tar.extractfile(info)
            assert extracted is not None, info.name
            found[info.name] = extracted.read()
        return found


def manifest(bundle: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(members(bundle)["manifest.json"])
    return data


def jsonl(bundle: Path, name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in members(bundle)[name].decode().splitlines()]


def rewrite(bundle: Path, target: Path, infos: list[tuple[tarfile.TarInfo, bytes]]) -> None:
    """Write `infos` (headers and data) as a .tar.gz at `target`."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for info, data in infos:
            info.size = len(data) if info.isreg() else 0
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    target.write_bytes(gzip.compress(buffer.getvalue()))


def regular(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mode = 0o600
    return info
