"""A version is one content: running a file whose `metadata.version` the ledger recorded
with other content is refused before anything runs (exit 2, at `version:`); an edit of
`metadata.maturity` alone is the same content."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from run_fixtures import (
    current_env,
    lines,
    run_env,  # noqa: F401  (autouse fixture)
    run_id_of,
    runbook,
    runs_json,
    steps_playbook,
)

_STEPS = """\
- id: mark
  shell: {run: "echo WORD >> {{ inputs.dir }}/marks"}
  undo: {shell: {run: "true"}}
"""


def _playbook(tmp_path: Path, word: str) -> Path:
    return Path(steps_playbook(tmp_path, "guarded", _STEPS.replace("WORD", word)))


def _run(path: Path) -> tuple[int, str, str]:
    ran = runbook("run", str(path), "-i", f"dir={current_env().work}", "--yes")
    return ran.returncode, ran.stdout, ran.stderr


def test_an_edited_file_under_a_recorded_version_is_refused_at_its_version(
    tmp_path: Path,
) -> None:
    path = _playbook(tmp_path, "first")
    code, out, err = _run(path)
    assert code == 0, out + err
    first = run_id_of(out)
    _playbook(tmp_path, "second")

    code, out, err = _run(path)

    assert code == 2, out + err
    line = next(n for n, text in enumerate(path.read_text().splitlines(), 1) if "version:" in text)
    column = path.read_text().splitlines()[line - 1].index("1.0.0") + 1
    assert f"{path}:{line}:{column}:" in err
    assert f"version 1.0.0 of guarded was recorded with other content (run {first})" in err
    assert "bump `version`" in err and "Traceback" not in err
    assert lines(current_env().work / "marks") == ["first"]  # nothing of the edit ran
    assert [run["run_id"] for run in runs_json()] == [first]  # and nothing was recorded


def test_a_bumped_version_runs_and_the_maturity_alone_is_no_new_content(tmp_path: Path) -> None:
    path = _playbook(tmp_path, "first")
    assert _run(path)[0] == 0
    path.write_text(path.read_text().replace("maturity: 2", "maturity: 1"))
    code, out, err = _run(path)  # a level-1 run needs a terminal: refused, but not for this
    assert "other content" not in err and code != 2, out + err
    path.write_text(path.read_text().replace("maturity: 1", "maturity: 2"))
    _playbook(tmp_path, "second")
    bumped = path.read_text().replace("version: 1.0.0", "version: 1.0.1")
    path.write_text(bumped)

    code, out, err = _run(path)

    assert code == 0, out + err
    assert lines(current_env().work / "marks") == ["first", "second"]
    with closing(sqlite3.connect(current_env().ledger)) as conn:
        recorded = conn.execute(
            "SELECT version, count(DISTINCT evidence_hash), count(DISTINCT content_hash)"
            " FROM runs GROUP BY version ORDER BY version"
        ).fetchall()
    # the two levels of 1.0.0 are one content for the evidence; 1.0.1 is another
    assert recorded == [("1.0.0", 1, 2), ("1.0.1", 1, 1)]


def test_a_dry_run_of_an_edited_file_warns_and_plans(tmp_path: Path) -> None:
    path = _playbook(tmp_path, "first")
    code, out, _err = _run(path)
    assert code == 0
    _playbook(tmp_path, "second")

    planned = runbook("plan", str(path), "-i", f"dir={current_env().work}", "-o", "json")

    assert planned.returncode == 0, planned.stdout + planned.stderr
    said = f"version 1.0.0 of guarded was recorded with other content (run {run_id_of(out)})"
    assert f"warning: {path}:" in planned.stderr and said in planned.stderr
    assert planned.stdout.lstrip().startswith("{")  # the plan's JSON alone on stdout
