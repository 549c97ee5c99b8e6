"""Reading a replay bundle in tests, and rewriting one as an attacker or a bad disk would."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path
from typing import Any

from sli_helpers import playbook, run_cli, run_id_of


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


FAST = "  settle: 100ms\n  samples: 2\n  interval: 100ms\n  timeout: 1s\n"


def sli(state: Path, probes: Path, healthy: str = "below: 1") -> str:
    """A command probe that reads the error count in `state` and notes each reading."""
    read = f"echo probed >> {probes}; cat {state}"
    probe = f"  probe:\n    command: {{run: ['sh', '-c', '{read}']}}\n"
    return f"{probe}  healthy: {{{healthy}}}\n{FAST}"


def recovered_run(tmp_path: Path) -> tuple[Path, Path]:
    """A run that recovered after step2 (which sets the error count to 0), exported:
    (the playbook file, the bundle)."""
    state, probes = tmp_path / "errors", tmp_path / "probes"
    state.write_text("5\n")
    path = playbook(tmp_path, sli(state, probes), {2: f"echo 0 > {state}"})
    done = run_cli("run", str(path))
    assert done.returncode == 0, done.stdout + done.stderr
    bundle = tmp_path / "run.tar.gz"
    exported = run_cli("export", run_id_of(done.stdout), "-o", str(bundle))
    assert exported.returncode == 0, exported.stderr
    return path, bundle


def refused(bundle: Path) -> str:
    """`runbook replay` of a bundle it must refuse (exit 5, no traceback): its stderr."""
    done = run_cli("replay", str(bundle))
    assert done.returncode == 5, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    return done.stderr


def consistent(found: dict[str, bytes]) -> dict[str, bytes]:
    """`found` with the manifest's list of files and SHA256SUMS made to match its members
    again, as someone who rewrote a bundle on purpose would."""
    files = {
        name: hashlib.sha256(data).hexdigest()
        for name, data in found.items()
        if name not in ("manifest.json", "SHA256SUMS")
    }
    document = json.loads(found["manifest.json"])
    document["files"] = files
    found = {**found, "manifest.json": json.dumps(document).encode()}
    sums = "".join(
        f"{hashlib.sha256(data).hexdigest()}  {name}\n"
        for name, data in sorted(found.items())
        if name != "SHA256SUMS"
    )
    return {**found, "SHA256SUMS": sums.encode()}
