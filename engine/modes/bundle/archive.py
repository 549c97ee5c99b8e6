"""The bundle's archive: a gzip'd tar written byte for byte the same for the same members
(sorted names, no times, no owners), and read back in memory under size limits, refusing
every member a careful reader would not extract."""

from __future__ import annotations

import gzip
import hashlib
import io
import posixpath
import tarfile
import zlib
from collections.abc import Mapping

from engine.core.errors import RefusedError

MEMBER_LIMIT = 32 * 1024 * 1024  # one member, uncompressed
TOTAL_LIMIT = 64 * 1024 * 1024  # the whole tar, uncompressed
MEMBERS_LIMIT = 10_000
FILE_MODE = 0o600


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def checksums_text(members: Mapping[str, bytes]) -> str:
    """`SHA256SUMS` of `members`, in the format `sha256sum -c` reads (two spaces: text)."""
    return "".join(f"{sha256(data)}  {name}\n" for name, data in sorted(members.items()))


def write_archive(members: Mapping[str, bytes]) -> bytes:
    """A .tar.gz of `members`: sorted, every time 0, owned by uid/gid 0, mode 0600."""
    buffer = io.BytesIO()
    with (
        gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0) as compressed,
        tarfile.open(fileobj=compressed, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for name in sorted(members):
            data = members[name]
            info = tarfile.TarInfo(safe_name(name))
            info.size, info.mtime, info.mode = len(data), 0, FILE_MODE
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def safe_name(name: str) -> str:
    """`name` if it is a relative path with no `..`, `.` or empty part; else refused."""
    parts = name.split("/")
    if not name or name.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise BundleRefused(name, "its name is not a plain relative path (absolute or `..`)")
    if "\\" in name or "\0" in name or posixpath.normpath(name) != name:
        raise BundleRefused(name, "its name is not a plain relative path")
    return name


class BundleRefused(RefusedError):
    """A bundle (or one member of it) that cannot be trusted: nothing is judged (exit 5)."""

    def __init__(self, member: str, problem: str) -> None:
        super().__init__(
            f"bundle member {member!r}: {problem}",
            "the bundle was changed or damaged since it was exported: export it again"
            " (`runbook export RUN_ID -o FILE.tar.gz`)",
        )
        self.member = member


def read_archive(path: str, data: bytes) -> dict[str, bytes]:
    """Every member of the archive `data` (the file `path`), in memory: regular files
    only, plain relative names, each at most `MEMBER_LIMIT` bytes, the whole tar at most
    `TOTAL_LIMIT` bytes once inflated (a decompression bomb stops there). Never
    extracted to disk."""
    members: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(_inflate(path, data)), mode="r:") as tar:
            for info in tar:
                name = safe_name(info.name)
                _check_member(info, name, members)
                extracted = tar.extractfile(info)
                assert extracted is not None  # a regular file
                members[name] = extracted.read()
    except tarfile.TarError as exc:
        raise _unreadable(path, str(exc)) from None
    return members


def _inflate(path: str, data: bytes) -> bytes:
    """The tar inside the gzip `data`, refused past `TOTAL_LIMIT` bytes."""
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        tar = inflater.decompress(data, TOTAL_LIMIT + 1)
    except zlib.error as exc:
        raise _unreadable(path, f"not gzip data ({exc})") from None
    if len(tar) > TOTAL_LIMIT:
        raise RefusedError(
            f"{path} inflates to over {TOTAL_LIMIT} bytes: refused unread",
            "a bundle `runbook export` writes is far smaller; this one is not one of ours",
        )
    if not inflater.eof or inflater.unused_data:
        raise _unreadable(path, "the gzip data is cut short or followed by other data")
    return tar


def _unreadable(path: str, problem: str) -> RefusedError:
    return RefusedError(
        f"{path} is not a readable bundle: {problem}",
        "a bundle is the .tar.gz `runbook export` writes",
    )


def _check_member(info: tarfile.TarInfo, name: str, seen: Mapping[str, bytes]) -> None:
    if not info.isreg():
        raise BundleRefused(name, "it is not a regular file (a link, a folder or a device)")
    if name in seen:
        raise BundleRefused(name, "it is in the archive twice")
    if len(seen) >= MEMBERS_LIMIT:
        raise BundleRefused(name, f"the archive has over {MEMBERS_LIMIT} members")
    if info.size > MEMBER_LIMIT:
        raise BundleRefused(name, f"it is over {MEMBER_LIMIT} bytes uncompressed")
