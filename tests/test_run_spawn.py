"""How a local command is found and started: the PATH search made in the engine gives
the same program and the same argv as the search the child would make."""

from __future__ import annotations

import os
from pathlib import Path

from engine.steps.process import find_executable, run_process


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

    assert outcome.exit_code == 0 and outcome.stdout == "good\n"


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
