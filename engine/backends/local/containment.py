"""Where a step's processes live, so that all of them die with the step.

Every local command starts in a session of its own, and a timeout or an abort kills
that process group. A daemon that calls `setsid` leaves the group, and when the engine
itself is killed (kill -9, the OOM killer) nobody is left to kill anything. Where the
engine may create `<cgroup2 mount>/runbook-engine` (cgroup v2, as root), each command
of a run therefore starts in a cgroup of its own,

    <cgroup2 mount>/runbook-engine/<run id>/<n>

which holds every process the command starts, `setsid` or not. A timeout or an abort
writes `cgroup.kill`: the kernel kills all of them at once. The folders outlive the
engine, so `runbook recover` and `runbook rollback` find what an interrupted run left
and kill it before anything is undone (`kill_leftovers`). A machine that reboots loses
the folders with the processes, so nothing needs to be written to disk for this.

The command is put in its cgroup by birth: the engine moves itself into the new cgroup,
starts the command there and moves itself back, so no child can fork before it is
contained. Where cgroups cannot be used (another OS, no permission) commands keep the
process group alone; `RUNBOOK_CGROUPS=off` chooses that.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

BASE_NAME = "runbook-engine"
EMPTY_WAIT_SECONDS = 5.0
_T = TypeVar("_T")
# The engine is in one cgroup at a time: one command is started at a time.
_moving = threading.Lock()


class Cell:
    """The cgroup of one command, or none (then only its process group contains it)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path

    def kill(self) -> int:
        """Kill every process left in the cell; how many there were."""
        if self.path is None:
            return 0
        return kill_cgroup(self.path)

    def release(self) -> None:
        """Remove the cell if nothing lives in it any more (a daemon a command left
        running on purpose keeps it)."""
        if self.path is not None:
            with contextlib.suppress(OSError):
                self.path.rmdir()


NO_CELL = Cell()


class Containment:
    """The cells of one run's commands."""

    def __init__(self, run_id: str, base: Path | None, own: Path | None) -> None:
        self.folder = base / run_id if base is not None and own is not None else None
        self.usable = self.folder is not None  # False once cgroups failed: groups only
        self.own = own  # the engine's own cgroup, where it returns after each start
        self.own_fd: int | None = None  # its cgroup.procs, kept open: one write(2) a move
        self.pid = str(os.getpid()).encode()
        self.count = 0
        self.cell: Path | None = None  # the last command's cell, reused once it is empty
        self.cell_fd: int | None = None  # its cgroup.procs

    @classmethod
    def for_run(cls, run_id: str) -> Containment:
        base = cgroup_base()
        return cls(run_id, base, _own_cgroup() if base is not None else None)

    def start(self, spawn: Callable[[], _T]) -> tuple[_T, Cell]:
        """Call `spawn` so that what it starts is born in a cell of this run of its own:
        the last command's cell once nothing lives in it any more, else a new one. If a
        move fails, the command is started all the same, contained by its process group
        only, and so is every later one."""
        procs = self._empty_cell()
        if procs is None or self.cell is None or self.own_fd is None:
            return spawn(), NO_CELL
        cell, own = self.cell, self.own_fd
        with _moving:
            if not self._move(procs):
                return spawn(), NO_CELL
            try:
                child = spawn()
            finally:
                back = self._move(own)
            return child, Cell(cell) if back else NO_CELL

    def _move(self, procs: int) -> bool:
        """Move the engine into the cgroup whose cgroup.procs is `procs`."""
        try:
            os.write(procs, self.pid)
        except OSError:
            self._give_up()
            return False
        return True

    def _empty_cell(self) -> int | None:
        """The cgroup.procs of a cell with no process in it, or None without cgroups."""
        if not self.usable or self.folder is None or self.own is None:
            return None
        if self.cell_fd is not None and not os.pread(self.cell_fd, 1, 0):
            return self.cell_fd
        self.count += 1
        cell = self.folder / str(self.count)
        fd = None
        try:
            cell.mkdir(parents=True, mode=0o700)
            fd = os.open(cell / "cgroup.procs", os.O_RDWR)
            if self.own_fd is None:
                self.own_fd = os.open(self.own / "cgroup.procs", os.O_WRONLY)
        except OSError:
            if fd is not None:
                os.close(fd)
            self._give_up()  # not ours to use after all
            return None
        self._close_cell()
        self.cell, self.cell_fd = cell, fd
        return fd

    def _give_up(self) -> None:
        self.usable = False
        self._close_cell()

    def _close_cell(self) -> None:
        if self.cell_fd is not None:
            os.close(self.cell_fd)
        self.cell = self.cell_fd = None

    def close(self) -> None:
        """Remove the run's empty cells and folder (best effort)."""
        self._close_cell()
        if self.own_fd is not None:
            os.close(self.own_fd)
            self.own_fd = None
        if self.folder is None:
            return
        with contextlib.suppress(OSError):
            for cell in self.folder.iterdir():
                Cell(cell).release()
            self.folder.rmdir()


def kill_leftovers(run_id: str) -> int:
    """Kill every process an earlier engine left in the cells of run `run_id` and remove
    them; how many processes there were. Only for a run whose engine is gone."""
    base = cgroup_base()
    folder = base / run_id if base is not None else None
    if folder is None or not folder.is_dir():
        return 0
    killed = 0
    for cell in sorted(folder.iterdir()):
        if cell.is_dir():
            killed += kill_cgroup(cell)
            Cell(cell).release()
    with contextlib.suppress(OSError):
        folder.rmdir()
    return killed


def kill_cgroup(path: Path) -> int:
    """SIGKILL every process in the cgroup at `path` and wait until it is empty."""
    pids = _pids(path)
    if not pids:
        return 0
    if os.getpid() in pids:  # never: the engine moves back before anything else runs
        raise RuntimeError(f"the engine is inside {path}; not killing itself")
    try:
        (path / "cgroup.kill").write_text("1")
    except OSError:  # a kernel before 5.14: one process at a time
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    end = time.monotonic() + EMPTY_WAIT_SECONDS
    while _populated(path) and time.monotonic() < end:
        time.sleep(0.01)
    return len(pids)


def cgroup_base() -> Path | None:
    """`<cgroup2 mount>/runbook-engine` when the engine may create cgroups there."""
    if os.environ.get("RUNBOOK_CGROUPS", "").lower() in ("0", "off", "no", "false"):
        return None
    mount = _cgroup2_mount()
    if mount is None:
        return None
    base = mount / BASE_NAME
    try:
        base.mkdir(mode=0o700, exist_ok=True)
    except OSError:
        return None
    return base if os.access(base, os.W_OK) and _own_cgroup() is not None else None


def slow_moves() -> Path | None:
    """The cgroup2 mount when commands start in cgroups there and it is mounted without
    `favordynmods`: then the first move of a process after a pause waits for an RCU
    grace period in the kernel (5-25 ms), which a server pays before each run's first
    command. With the option (Linux >= 6.0) a move does not wait. None otherwise."""
    if cgroup_base() is None:
        return None
    mount = _cgroup2_mount_entry()
    return mount[0] if mount is not None and "favordynmods" not in mount[1] else None


def _cgroup2_mount() -> Path | None:
    mount = _cgroup2_mount_entry()
    return mount[0] if mount is not None else None


def _cgroup2_mount_entry() -> tuple[Path, frozenset[str]] | None:
    """Where cgroup2 is mounted, and its super options."""
    with contextlib.suppress(OSError):
        return cgroup2_in_mountinfo(Path("/proc/self/mountinfo").read_text())
    return None


def cgroup2_in_mountinfo(text: str) -> tuple[Path, frozenset[str]] | None:
    """The first cgroup2 mount in a /proc/PID/mountinfo text: its mount point and its
    super options (`36 35 0:38 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate`)."""
    for line in text.splitlines():
        fields = line.split(" - ")
        if len(fields) != 2:
            continue
        kind = fields[1].split(" ")
        if kind[0] == "cgroup2":
            options = frozenset(kind[2].split(",")) if len(kind) > 2 else frozenset()
            return Path(fields[0].split(" ")[4]), options
    return None


def _own_cgroup() -> Path | None:
    """The cgroup v2 folder the engine is in now."""
    mount = _cgroup2_mount()
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            if line.startswith("0::") and mount is not None:
                own = mount / line[3:].lstrip("/")
                return own if os.access(own / "cgroup.procs", os.W_OK) else None
    return None


def _pids(path: Path) -> list[int]:
    with contextlib.suppress(OSError):
        return [int(pid) for pid in (path / "cgroup.procs").read_text().split()]
    return []


def _populated(path: Path) -> bool:
    with contextlib.suppress(OSError):
        for line in (path / "cgroup.events").read_text().splitlines():
            if line.startswith("populated "):
                return line.split()[1] == "1"
    return False
