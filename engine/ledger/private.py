"""The ledger's folder and files are the engine's own: a ledger someone else could write
would let them choose what a later `rollback` executes. Opening one checks them all."""

from __future__ import annotations

import os
from pathlib import Path

from engine.core.private_files import check_private_file, open_private_file, private_folder

# SQLite's companions of a WAL database: it creates them with the database's mode.
COMPANIONS = ("-wal", "-shm", "-journal")


def open_private_ledger(path: Path) -> None:
    """Create the ledger's folder (0700) and file (0600) if missing; refuse the folder,
    the file or a companion file that is a symlink, not ours, or writable by others."""
    private_folder(path.parent)
    if os.path.lexists(path):
        # Checked, not opened: closing a descriptor of a file drops every POSIX lock this
        # process holds on it, so a second connection in one process (a drill's runs)
        # would take away the first one's SQLite locks.
        check_private_file(path)
    else:
        os.close(open_private_file(path, os.O_RDWR))
    for suffix in COMPANIONS:
        check_private_file(path.with_name(path.name + suffix))
