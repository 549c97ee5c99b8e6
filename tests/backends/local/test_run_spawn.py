"""How a local command is found and started: the PATH search made in the engine gives
the same program and the same argv as the search the child would make."""

from __future__ import annotations

import ast
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from tree import REPO

from engine.backends.local.process import CannotStart, find_executable, run_process


def tool(folder: Path, name: str, body: str, mode: int = 0o755) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(body)
    path.chmod(mode)
    return path


def test_the_first_executable_on_path_runs_with_argv_0_as_written(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    tool(first, "hello", "#!/bin/sh\necho first\n", mode=0o644)  # not executable: skipped
    tool(second, "hello", '#!/bin/sh\necho "second $0"\n')
    path = f"{first}{os.pathsep}{second}{os.pathsep}/usr/bin:/bin"

    outcome = run_process(["hello"], env={"PATH": path}, timeout=10)
    shell = run_process(["sh", "-c", 'echo "$0"'], timeout=10)

    assert find_executable("hello", path) == str(second / "hello")
    assert outcome.exit_code == 0
    assert outcome.stdout == f"second {second / 'hello'}\n"  # a script gets its path
    assert shell.stdout == "sh\n"  # a program gets argv[0] as written


def test_a_broken_interpreter_line_falls_back_to_the_childs_own_search(tmp_path: Path) -> None:
    broken, good = tmp_path / "broken", tmp_path / "good"
    tool(broken, "hello", "#!/nonexistent/interpreter\n")
    tool(good, "hello", "#!/bin/sh\necho good\n")

    outcome = run_process(["hello"], env={"PATH": f"{broken}{os.pathsep}{good}"}, timeout=10)
    with pytest.raises(CannotStart) as alone:  # no other: the error names the file found
        run_process(["hello"], env={"PATH": str(broken)}, timeout=10)

    assert outcome.exit_code == 0 and outcome.stdout == "good\n"
    assert str(alone.value) == (
        f"cannot start `hello`: {broken / 'hello'} exists but cannot be run: "
        "No such file or directory (a missing #! interpreter?)"
    )


def test_names_with_a_slash_and_relative_path_entries_are_left_to_the_child(
    tmp_path: Path,
) -> None:
    assert find_executable("./hello", "/usr/bin") is None
    assert find_executable("sh", f"relative{os.pathsep}/bin") is None
    assert find_executable("sh", f"{os.pathsep}/bin") is None  # empty entry: the cwd
    assert find_executable("no-such-tool-anywhere", "/usr/bin:/bin") is None
    tool(tmp_path / "work", "hello", "#!/bin/sh\necho here\n")

    outcome = run_process(["hello"], env={"PATH": "."}, cwd=str(tmp_path / "work"), timeout=10)

    assert outcome.exit_code == 0 and outcome.stdout == "here\n"


# With a working directory or without one, the same process starts: its own session,
# default SIGPIPE, none of the engine's descriptors.
BOTH_WAYS = ["own cwd", "cwd"]


def _cwd(way: str, tmp_path: Path) -> str | None:
    return str(tmp_path) if way == "cwd" else None


@pytest.mark.parametrize("way", BOTH_WAYS)
def test_the_child_leads_a_session_of_its_own(way: str, tmp_path: Path) -> None:
    outcome = run_process(
        ["sh", "-c", "echo $$; ps -o sid= -p $$"], cwd=_cwd(way, tmp_path), timeout=10
    )

    pid, sid = outcome.stdout.split()
    assert pid == sid and int(sid) != os.getsid(0)


@pytest.mark.parametrize("way", BOTH_WAYS)
def test_the_child_dies_of_sigpipe_as_usual(way: str, tmp_path: Path) -> None:
    # Python ignores SIGPIPE; a child that inherited that would see EPIPE instead.
    outcome = run_process(["sh", "-c", "yes | head -n 1"], cwd=_cwd(way, tmp_path), timeout=10)

    assert (outcome.exit_code, outcome.output) == (0, "y\n")


@pytest.mark.parametrize("way", BOTH_WAYS)
def test_the_child_gets_no_descriptor_of_the_engines(way: str, tmp_path: Path) -> None:
    # An engine process started with an extra, inheritable descriptor (as a shell's
    # `3>file` or a job server gives one): its steps must not see it.
    read, write = os.pipe()
    code = (
        "import sys\n"
        "from engine.backends.local.process import run_process\n"
        f"outcome = run_process(['ls', '/proc/self/fd'], cwd={_cwd(way, tmp_path)!r})\n"
        "print(outcome.stdout.split())\n"
    )
    try:
        engine = subprocess.run(
            [sys.executable, "-c", code, str(write)],
            pass_fds=(write,), capture_output=True, text=True, timeout=30, check=False,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )  # fmt: skip
    finally:
        os.close(read)
        os.close(write)

    assert engine.returncode == 0, engine.stderr
    seen = [int(fd) for fd in ast.literal_eval(engine.stdout)]
    assert sorted(seen)[:3] == [0, 1, 2]
    assert write not in seen


@pytest.mark.parametrize("way", BOTH_WAYS)
def test_a_child_killed_by_a_signal_and_stdin_fed_through_a_pipe(way: str, tmp_path: Path) -> None:
    killed = run_process(["sh", "-c", "kill -TERM $$"], cwd=_cwd(way, tmp_path), timeout=10)
    fed = run_process(["cat"], stdin="from the engine\n", cwd=_cwd(way, tmp_path), timeout=10)

    assert killed.exit_code == -signal.SIGTERM
    assert (fed.exit_code, fed.stdout) == (0, "from the engine\n")


@pytest.mark.parametrize("way", BOTH_WAYS)
def test_the_child_sees_the_engines_environment_as_it_is_now(
    way: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What was set, changed or removed since the engine started must reach the child
    # exactly, undecodable bytes included.
    show = ["sh", "-c", 'printf "%s|%s|%s" "$RB_SET" "$RB_GONE" "$RB_RAW"']
    monkeypatch.setenv("RB_GONE", "still here")
    before = run_process(show, cwd=_cwd(way, tmp_path), timeout=10)
    monkeypatch.setenv("RB_SET", "new value")
    monkeypatch.delenv("RB_GONE")
    monkeypatch.setitem(os.environb, b"RB_RAW", b"caf\xe9")  # not UTF-8

    after = run_process(show, cwd=_cwd(way, tmp_path), timeout=10)

    assert before.stdout == "|still here|"
    assert after.stdout == "new value||caf\ufffd"  # the child got the byte; we decode


@pytest.mark.parametrize("way", BOTH_WAYS)
def test_an_error_while_reading_kills_the_child_and_leaks_no_descriptor(
    way: str, tmp_path: Path
) -> None:
    def explode(line: str) -> None:
        raise RuntimeError(line)  # a display that fails on the first line: the child's pid

    before = len(os.listdir("/proc/self/fd"))
    with pytest.raises(RuntimeError) as failed:
        run_process(
            ["sh", "-c", "echo $$; exec sleep 30"],
            cwd=_cwd(way, tmp_path), on_output=explode, timeout=60,
        )  # fmt: skip

    assert len(os.listdir("/proc/self/fd")) == before
    with pytest.raises(ProcessLookupError):  # killed and reaped
        os.kill(int(str(failed.value)), 0)


def test_on_the_engines_own_path_the_search_skips_what_cannot_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Not executable, a directory, or a broken interpreter line: skipped, as a shell's own
    # search skips them.
    first, second, third = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    tool(first, "hello", "#!/bin/sh\necho first\n", mode=0o644)
    (second / "hello").mkdir(parents=True)
    tool(third, "hello", '#!/bin/sh\necho "third $0"\n')
    tool(second, "broken", "#!/nonexistent/interpreter\n")
    tool(third, "broken", "#!/bin/sh\necho good\n")
    monkeypatch.setenv("PATH", os.pathsep.join(map(str, (first, second, third, "/usr/bin:/bin"))))

    outcome = run_process(["hello"], timeout=10)
    broken = run_process(["broken"], env={"LANG": "C"}, timeout=10)  # same PATH as ours

    assert (outcome.exit_code, outcome.stdout) == (0, f"third {third / 'hello'}\n")
    assert (broken.exit_code, broken.stdout) == (0, "good\n")
    with pytest.raises(CannotStart, match=r"`no-such-tool-anywhere`: no such program on PATH") as e:
        run_process(["no-such-tool-anywhere"], timeout=10)
    assert isinstance(e.value.cause, FileNotFoundError)
