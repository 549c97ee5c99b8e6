"""The sshd fixture leaves the machine as it found it: the session's login user and its
home go when the session ends (also when its tests fail), /run/sshd goes only when the
tests made it and no other session still uses it."""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
from pathlib import Path

import pytest
from sshd_fixtures import PRIVSEP_MARKER, privsep_dir
from tree import TESTS

FAILING_SESSION = """\
from pathlib import Path


def test_fails_after_logging_in(sshd):
    Path({out!r}).write_text(sshd.user + " " + str(sshd.home))
    assert False, "a failed test must not keep the user"
"""


def test_a_failed_session_removes_its_user_and_home(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("the session user exists only under root")
    out = tmp_path / "user"
    (tmp_path / "test_session.py").write_text(FAILING_SESSION.format(out=str(out)))
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["sshd_fixtures"]\n')
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), str(TESTS.parent)])}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    user, home = out.read_text().split()
    assert user.startswith("runbook-ssh-") and user != "runbook-ssh"
    with pytest.raises(KeyError):
        pwd.getpwnam(user)
    assert not Path(home).exists()


def test_the_privsep_folder_made_by_the_tests_goes_with_its_last_session(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "sshd"
    with privsep_dir(folder):
        assert (folder / PRIVSEP_MARKER).exists()
        with privsep_dir(folder):  # a second session, started while the first runs
            pass
        assert folder.is_dir(), "the first session still needs it"
    assert not folder.exists()


def test_a_privsep_folder_the_tests_did_not_make_stays(tmp_path: Path) -> None:
    folder = tmp_path / "sshd"
    folder.mkdir()
    with privsep_dir(folder):
        pass
    assert folder.is_dir()
    assert list(folder.iterdir()) == []


def test_the_first_session_to_end_leaves_the_folder_to_the_last(tmp_path: Path) -> None:
    folder = tmp_path / "sshd"
    first, second = privsep_dir(folder), privsep_dir(folder)
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert folder.is_dir()
    second.__exit__(None, None, None)
    assert not folder.exists()
