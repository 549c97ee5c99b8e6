"""Which cgroup2 mount commands start under, and whether moving a process there waits
for the kernel (`runbook serve` says so at start: a mount without `favordynmods` costs
each run's first command an RCU grace period)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.backends.local.containment import cgroup2_in_mountinfo, slow_moves

HYBRID = "".join(
    f"{line}\n"
    for line in (
        "25 30 0:23 / /sys rw,nosuid,relatime shared:7 - sysfs sysfs rw",
        "33 25 0:28 / /sys/fs/cgroup ro,nosuid shared:9 - tmpfs tmpfs ro,mode=755",
        "34 33 0:29 / /sys/fs/cgroup/unified rw,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate",
        "35 33 0:30 / /sys/fs/cgroup/memory rw,relatime shared:11 - cgroup cgroup rw,memory",
    )
)
UNIFIED = (
    "29 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4"
    " - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot,favordynmods\n"
)


def test_the_cgroup2_mount_and_its_super_options_are_read() -> None:
    assert cgroup2_in_mountinfo(HYBRID) == (
        Path("/sys/fs/cgroup/unified"),
        frozenset({"rw", "nsdelegate"}),
    )
    mount, options = cgroup2_in_mountinfo(UNIFIED) or (None, frozenset())
    assert mount == Path("/sys/fs/cgroup")
    assert "favordynmods" in options


def test_no_cgroup2_mount_is_none() -> None:
    assert cgroup2_in_mountinfo(HYBRID.replace("cgroup2", "cgroup")) is None
    assert cgroup2_in_mountinfo("") is None


def test_without_cgroups_nothing_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNBOOK_CGROUPS", "off")
    assert slow_moves() is None
