"""The engine's own folders and files (the ledger and its state folder, crash logs, the
cache) are used only when they are the user's alone, and are created 0700 / 0600 whatever
the umask. A ledger someone else could write lets them choose what a rollback executes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from run_fixtures import (  # noqa: F401  (run_env: autouse fixture)
    REPO,
    current_env,
    playbook,
    run_env,
    runbook,
)

NOBODY = 65534


def write_playbook() -> Path:
    path = current_env().work / "touch-marker.yaml"
    shutil.copyfile(playbook("touch-marker.yaml"), path)
    return path


def run_touching(marker: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return runbook("run", str(write_playbook()), "-i", f"marker={marker}", extra_env=env)


def mode(path: Path) -> int:
    return os.lstat(path).st_mode & 0o777


def assert_refused(ran: subprocess.CompletedProcess[str], marker: Path, what: str) -> None:
    assert ran.returncode == 5, ran.stdout + ran.stderr
    assert what in ran.stderr and "hint:" in ran.stderr
    assert "Traceback" not in ran.stderr
    assert not marker.exists()  # refused before step 1


@pytest.mark.parametrize("bits", [0o770, 0o707, 0o777])
def test_a_state_folder_others_can_write_is_refused(bits: int) -> None:
    env = current_env()
    env.home.mkdir()
    env.home.chmod(bits)
    marker = env.work / "ran"

    ran = run_touching(marker)

    assert_refused(ran, marker, "writable by others")
    assert f"chmod go-w {env.home}" in ran.stderr
    assert not env.ledger.exists()


def test_a_state_folder_owned_by_another_user_is_refused() -> None:
    env = current_env()
    env.home.mkdir(mode=0o700)
    os.chown(env.home, NOBODY, NOBODY)
    marker = env.work / "ran"

    assert_refused(run_touching(marker), marker, f"owned by uid {NOBODY}")
    assert not env.ledger.exists()


def test_a_state_folder_that_is_a_symlink_is_refused() -> None:
    env = current_env()
    real = env.work / "real-home"
    real.mkdir(mode=0o700)
    env.home.symlink_to(real)
    marker = env.work / "ran"

    assert_refused(run_touching(marker), marker, "is a symlink")
    assert list(real.iterdir()) == []


def test_a_state_folder_inside_a_folder_others_can_write_is_refused_unless_sticky() -> None:
    env = current_env()
    shared = env.work / "shared"
    shared.mkdir()
    shared.chmod(0o777)  # no sticky bit: anyone could rename the state folder away
    marker = env.work / "ran"
    state = {"RUNBOOK_HOME": str(shared / "state")}

    assert_refused(run_touching(marker, **state), marker, f"{shared} is writable by others")
    assert not (shared / "state").exists()  # nothing created in it either

    shared.chmod(0o1777)  # like /tmp: only the owner of an entry may rename it
    ran = run_touching(marker, **state)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert marker.exists()


@pytest.mark.parametrize("name", ["ledger.sqlite3", "ledger.sqlite3-wal", "ledger.sqlite3-shm"])
def test_a_symlink_in_the_state_folder_is_not_followed(name: str) -> None:
    env = current_env()
    env.home.mkdir(mode=0o700)
    elsewhere = env.work / "elsewhere"
    elsewhere.write_bytes(b"")
    (env.home / name).symlink_to(elsewhere)
    marker = env.work / "ran"

    assert_refused(run_touching(marker), marker, "is a symlink")
    assert elsewhere.read_bytes() == b""


def test_a_ledger_file_others_can_write_is_refused() -> None:
    env = current_env()
    env.home.mkdir(mode=0o700)
    env.ledger.touch()
    env.ledger.chmod(0o666)
    marker = env.work / "ran"

    assert_refused(run_touching(marker), marker, "writable by others")


def test_a_ledger_file_owned_by_another_user_is_refused() -> None:
    env = current_env()
    env.home.mkdir(mode=0o700)
    env.ledger.touch(mode=0o600)
    os.chown(env.ledger, NOBODY, NOBODY)
    marker = env.work / "ran"

    assert_refused(run_touching(marker), marker, f"owned by uid {NOBODY}")


UNDER_UMASK_0 = """\
import json, os, sys
from pathlib import Path
os.umask(0)
from engine.ledger import Ledger
ledger = Ledger.open(Path(sys.argv[1]))
ledger.mark_interrupted()
names = ("", "-wal", "-shm")
print(json.dumps({n: os.stat(sys.argv[1] + n).st_mode & 0o777 for n in names}))
ledger.close()
"""


def test_the_ledger_and_every_folder_made_for_it_are_private_under_umask_0() -> None:
    env = current_env()
    ledger = env.work / "a" / "b" / "state" / "ledger.sqlite3"

    shown = subprocess.run(
        [sys.executable, "-c", UNDER_UMASK_0, str(ledger)],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )

    assert json.loads(shown.stdout) == {"": 0o600, "-wal": 0o600, "-shm": 0o600}
    for folder in (env.work / "a", env.work / "a" / "b", ledger.parent):
        assert mode(folder) == 0o700, folder


CRASH_UNDER_UMASK_0 = """\
import os
os.umask(0)
from engine.cli.error_handler import error_handler
with error_handler():
    raise RuntimeError("a crash, on purpose")
"""


def crash_under_umask_0() -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", CRASH_UNDER_UMASK_0]
    return subprocess.run(command, capture_output=True, text=True, check=False, cwd=REPO)


def test_a_crash_log_is_private_under_umask_0() -> None:
    env = current_env()

    crashed = crash_under_umask_0()

    assert crashed.returncode == 70, crashed.stderr
    [log] = (env.home / "logs").iterdir()
    assert f"details: {log}" in crashed.stderr
    assert (mode(env.home), mode(log.parent), mode(log)) == (0o700, 0o700, 0o600)


def test_a_crash_log_is_not_written_through_a_symlinked_logs_folder() -> None:
    env = current_env()
    env.home.mkdir(mode=0o700)
    elsewhere = env.work / "elsewhere"
    elsewhere.mkdir()
    (env.home / "logs").symlink_to(elsewhere)

    crashed = crash_under_umask_0()

    assert crashed.returncode == 70, crashed.stderr
    assert list(elsewhere.iterdir()) == []
    log = Path(crashed.stderr.split("details: ")[1].strip())
    assert mode(log) == 0o600
    log.unlink()


def test_the_cache_and_its_parents_are_private_under_umask_0() -> None:
    env = current_env()
    cache_root = env.work / "xdg" / "cache"
    marker = env.work / "ran"
    script = "import os, runpy, sys; os.umask(0); runpy.run_module('engine', run_name='__main__')"
    command = [sys.executable, "-c", script, "run", str(write_playbook()), "-i", f"marker={marker}"]

    ran = subprocess.run(
        command,
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
        env={**os.environ, "XDG_CACHE_HOME": str(cache_root)},
    )

    assert ran.returncode == 0, ran.stdout + ran.stderr
    folder = cache_root / "runbook-engine"
    assert [mode(f) for f in (env.work / "xdg", cache_root, folder)] == [0o700] * 3
    files = list(folder.iterdir())
    assert files and all(mode(f) == 0o600 for f in files)


def test_a_symlinked_cache_folder_is_not_used_and_said_so() -> None:
    env = current_env()
    cache_root = env.work / "cache"
    cache_root.mkdir()
    elsewhere = env.work / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    (cache_root / "runbook-engine").symlink_to(elsewhere)
    marker = env.work / "ran"

    ran = run_touching(marker, XDG_CACHE_HOME=str(cache_root))

    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert marker.exists()
    assert "warning: cache not used" in ran.stderr and "is a symlink" in ran.stderr
    assert list(elsewhere.iterdir()) == []


def test_nothing_half_done_when_a_folder_cannot_be_made() -> None:
    env = current_env()
    blocker = env.work / "file"
    blocker.write_text("")
    marker = env.work / "ran"

    ran = run_touching(marker, RUNBOOK_HOME=str(blocker / "state"))

    assert_refused(ran, marker, "cannot use")
    assert blocker.read_text() == ""
