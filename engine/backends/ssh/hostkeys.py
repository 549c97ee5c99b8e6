"""Host key verification against known_hosts files, before any authentication.

Files are read in order: the system's (/etc/ssh/ssh_known_hosts), the user's
(~/.ssh/known_hosts) and the inventory host's `known_hosts`. Entries for a port other
than 22 are written `[address]:port`; hashed names (`|1|salt|hash`), `*`/`?` wildcards,
`!negations` and `@revoked` markers are honoured (paramiko itself ignores `@revoked`).
There is no auto-accept: an unknown key is refused with the command that trusts it.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import hashlib
import hmac
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from msgspec import Struct

from engine.backends.ssh.errors import HostKeyError
from engine.backends.ssh.inventory import Host
from engine.core.private_files import UnsafePathError, check_trusted_file
from engine.core.regular_file import read_regular_text

SYSTEM_FILES = (Path("/etc/ssh/ssh_known_hosts"), Path("/etc/ssh/ssh_known_hosts2"))


class Entry(Struct, frozen=True):
    """One known_hosts line: its patterns, key and where it was read."""

    patterns: tuple[str, ...]
    key_type: str
    blob: bytes
    where: str
    marker: str = ""


class ServerKey(Struct, frozen=True):
    key_type: str
    blob: bytes

    @property
    def fingerprint(self) -> str:
        """OpenSSH's SHA256 fingerprint (as `ssh-keygen -lf` prints it)."""
        digest = base64.b64encode(hashlib.sha256(self.blob).digest()).decode()
        return "SHA256:" + digest.rstrip("=")


def known_hosts_files(host: Host) -> list[Path]:
    """The files consulted for `host`, in order (absent ones included)."""
    files = [*SYSTEM_FILES, Path("~/.ssh/known_hosts").expanduser()]
    if host.known_hosts:
        files.append(Path(host.known_hosts).expanduser())
    return files


def lookup_name(host: Host) -> str:
    """How known_hosts spells this endpoint: `address`, or `[address]:port`."""
    return host.address if host.port == 22 else f"[{host.address}]:{host.port}"


def entries_for(host: Host) -> list[Entry]:
    """The non-revoked entries that name this endpoint."""
    name = lookup_name(host)
    return [e for e in read_entries(known_hosts_files(host)) if not e.marker and matches(e, name)]


def preferred_types(host: Host) -> list[str]:
    """Key types already known for the host, to ask the server for those first."""
    return list(dict.fromkeys(entry.key_type for entry in entries_for(host)))


def verify(host: Host, key: ServerKey) -> None:
    """Return when `key` is known for `host`; raise HostKeyError otherwise."""
    entries = read_entries(known_hosts_files(host))
    name = lookup_name(host)
    for entry in entries:
        if entry.marker == "@revoked" and entry.blob == key.blob:
            raise HostKeyError(
                f"the host key of {_who(host)} is REVOKED ({entry.where}): {_key(key)}",
                "do not connect: the key was marked compromised; ask the host's owner",
            )
    known = [e for e in entries if not e.marker and matches(e, name)]
    if any(entry.blob == key.blob for entry in known):
        return
    if known:
        raise _changed(host, key, known)
    raise _unknown(host, key)


def read_entries(files: Iterable[Path]) -> list[Entry]:
    """The entries of the files that exist; one that others could have written is refused
    (HostKeyError): a key planted there would let its server take the commands."""
    found: list[Entry] = []
    for path in files:
        if os.path.exists(path):
            _refuse_unless_trusted(path)
        try:
            text = read_regular_text(path, errors="replace")
        except OSError:
            continue
        found.extend(_parse(text, str(path)))
    return found


def _refuse_unless_trusted(path: Path) -> None:
    try:
        check_trusted_file(path)
    except UnsafePathError as exc:
        raise HostKeyError(f"known_hosts file {path}: {exc.message}", exc.hint) from None


def _parse(text: str, file: str) -> Iterator[Entry]:
    for number, raw in enumerate(text.splitlines(), 1):
        fields = raw.split()
        if not fields or fields[0].startswith("#"):
            continue
        marker = fields.pop(0) if fields[0].startswith("@") else ""
        if len(fields) < 3:
            continue
        try:
            blob = base64.b64decode(fields[2], validate=True)
        except (binascii.Error, ValueError):
            continue
        yield Entry(tuple(fields[0].split(",")), fields[1], blob, f"{file}:{number}", marker)


def matches(entry: Entry, name: str) -> bool:
    """OpenSSH's rule: some pattern matches, and no negated pattern does."""
    hit = False
    for pattern in entry.patterns:
        negated = pattern.startswith("!")
        if _pattern_matches(pattern.removeprefix("!"), name):
            if negated:
                return False
            hit = True
    return hit


def _pattern_matches(pattern: str, name: str) -> bool:
    if pattern.startswith("|1|"):
        parts = pattern.split("|")
        if len(parts) != 4:
            return False
        try:
            salt, wanted = base64.b64decode(parts[2]), base64.b64decode(parts[3])
        except (binascii.Error, ValueError):
            return False
        digest = hmac.new(salt, name.encode(), hashlib.sha1).digest()
        return hmac.compare_digest(digest, wanted)
    return fnmatch.fnmatchcase(name.lower(), pattern.lower().replace("[", "[[]"))


def _who(host: Host) -> str:
    return f"{host.name} ({host.address} port {host.port})"


def _key(key: ServerKey) -> str:
    return f"{key.key_type} {key.fingerprint}"


def _trust_command(host: Host, key: ServerKey) -> str:
    target = host.known_hosts or "~/.ssh/known_hosts"
    return f"ssh-keyscan -p {host.port} -t {key.key_type} {host.address} >> {target}"


def _unknown(host: Host, key: ServerKey) -> HostKeyError:
    return HostKeyError(
        f"unknown host key for {_who(host)}: {_key(key)}; refused before authentication, "
        "nothing was sent",
        "check that fingerprint with the host's owner (ssh-keygen -lf on the host's key), "
        f"then trust it deliberately: {_trust_command(host, key)}",
    )


def _changed(host: Host, key: ServerKey, known: list[Entry]) -> HostKeyError:
    old = known[0]
    was = f"{old.key_type} {ServerKey(old.key_type, old.blob).fingerprint}"
    return HostKeyError(
        f"HOST KEY CHANGED for {_who(host)}: it presents {_key(key)} but {old.where} "
        f"has {was}; someone may be intercepting the connection. Refused before "
        "authentication, nothing was sent",
        "if the host was really re-keyed, verify the new fingerprint out of band, remove "
        f"the old line ({old.where}: ssh-keygen -R '{lookup_name(host)}'), then "
        f"{_trust_command(host, key)}",
    )
