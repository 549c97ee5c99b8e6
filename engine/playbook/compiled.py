"""The compiled-playbook cache: what `runbook run` loads instead of re-checking a file.

A playbook that passed every check is kept, pickled, in the user's private cache
directory (`engine.core.usercache`), keyed by everything the checks read: the exact text
(the bytes that are also recorded in the ledger), the path as given, the engine's own
code (path, size and mtime of every module and data file of the package, so an edited
or upgraded engine never meets a stale entry) and the Python bytecode version. Two
checksums of the key name the file, and the entry holds the whole key, compared on
every read: two keys that share a name are a miss for one of them, never the wrong
playbook (and no hashing library is loaded at start-up). A run of
an unchanged playbook then skips YAML, the schema and the template checks, and their
imports. Like a `.pyc`, the first run after a change pays the full check and writes the
entry; an entry that cannot be read, or unpickles to anything but a playbook, is a miss.

Only valid playbooks are cached; warnings are not kept (the run path ignores them, and
`runbook validate` never uses this cache).
"""

from __future__ import annotations

import os
import pickle
import sys
import zlib
from pathlib import Path

from engine import __version__
from engine.core.usercache import cache_dir, keep_newest, read_private, touch, write_atomically
from engine.model.playbook import Playbook

__all__ = ["load_checked", "lookup", "store"]

# Bump when what is cached changes shape.
_FORMAT = "2"
# Entries kept: the most recently used. An entry is about 1-40 KiB.
KEEP_ENTRIES = 256
_ENTRIES = "playbook-*.pickle"
_PACKAGE = Path(__file__).resolve().parent.parent
_CODE_SUFFIXES = (".py", ".json", ".yaml")
# In a source checkout the schema lives beside the package, not in it (engine/_data).
_CHECKOUT_SCHEMA = _PACKAGE.parent / "schema" / "playbook.v1.json"


def load_checked(file: str, text: str) -> Playbook:
    """The model of a valid playbook, from the cache when the same text was checked by
    the same engine; otherwise checked in full (InvalidPlaybook with every finding)."""
    cached = lookup(file, text)
    if cached is not None:
        return cached
    from engine.playbook.loader import load_playbook

    playbook = load_playbook(file, text=text)
    store(file, text, playbook)
    return playbook


def lookup(file: str, text: str) -> Playbook | None:
    key = _key(file, text)
    entry = _entry(key)
    data = read_private(entry) if entry else None
    if entry is None or data is None:
        return None
    try:
        stored, value = pickle.loads(data)  # noqa: S301 - our private cache
    except Exception:  # a damaged or outdated entry is a miss, and is written anew
        return None
    if stored != key or not isinstance(value, Playbook) or value.file != file:
        return None
    touch(entry)
    return value


def store(file: str, text: str, playbook: Playbook) -> None:
    key = _key(file, text)
    entry = _entry(key)
    if entry is None:
        return
    try:
        data = pickle.dumps((key, playbook), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # a model that cannot be pickled is simply not cached
        return
    write_atomically(entry, data)
    keep_newest(entry.parent, _ENTRIES, KEEP_ENTRIES)


def _key(file: str, text: str) -> bytes:
    parts = (_FORMAT, __version__, sys.implementation.cache_tag, _code_fingerprint(), file, text)
    return "\0".join(parts).encode("utf-8", "surrogatepass")


def _entry(key: bytes) -> Path | None:
    directory = cache_dir()
    if directory is None:
        return None
    name = f"{zlib.crc32(key):08x}{zlib.adler32(key):08x}{len(key):x}"
    return directory / _ENTRIES.replace("*", name)


def _code_fingerprint() -> str:
    """Path, size and mtime of every module and data file of the engine package (and of
    the schema of a source checkout)."""
    lines: list[str] = []
    folders = [str(_PACKAGE)]
    while folders:
        with os.scandir(folders.pop()) as entries:
            for item in entries:
                if item.is_dir(follow_symlinks=False):
                    if item.name != "__pycache__":
                        folders.append(item.path)
                elif item.name.endswith(_CODE_SUFFIXES):
                    status = item.stat()
                    lines.append(f"{item.path}\0{status.st_size}\0{status.st_mtime_ns}")
    lines.sort()
    try:
        status = _CHECKOUT_SCHEMA.stat()
        lines.append(f"{_CHECKOUT_SCHEMA}\0{status.st_size}\0{status.st_mtime_ns}")
    except OSError:
        pass
    return "\n".join(lines)
