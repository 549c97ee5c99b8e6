"""A step's output is shown line by line in time linear in its size and bounded memory,
whatever its shape: a line longer than the limit is shown once, cut, saying how much."""

from __future__ import annotations

import json

from run_fixtures import (
    playbook,
    run_env,  # noqa: F401  (autouse fixture)
    runbook,
)

from engine.backends.supervisor import MAX_LINE, LineSplitter


def _splitter(max_line: int = 10) -> tuple[LineSplitter, list[str]]:
    shown: list[str] = []
    return LineSplitter(shown.append, max_line), shown


def test_lines_split_across_reads_are_shown_whole() -> None:
    splitter, shown = _splitter()
    for piece in ("on", "e\ntw", "o\n\nthr", "ee"):
        splitter.feed(piece)
    splitter.flush()
    assert shown == ["one", "two", "", "three"]


def test_a_long_line_keeps_only_its_head_and_counts_the_rest() -> None:
    splitter, shown = _splitter(max_line=10)
    for _ in range(1000):
        splitter.feed("x" * 1000)
        assert splitter.size <= 10  # nothing beyond the limit is kept
    splitter.feed("x\nnext\n")
    assert shown == ["x" * 10 + " […999991 characters cut]", "next"]


def test_a_long_line_within_one_read_is_cut_too() -> None:
    splitter, shown = _splitter(max_line=4)
    splitter.feed("abcdefgh\nok\nlonger")
    splitter.flush()
    assert shown == ["abcd […4 characters cut]", "ok", "long […2 characters cut]"]


def test_a_step_that_prints_one_huge_line_shows_it_cut() -> None:
    result = runbook("run", playbook("one-long-line.yaml"), "--output", "json", timeout=120)
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    shown = [record["line"] for record in records if record["kind"] == "output"]
    assert shown == ["a" * MAX_LINE + f" […{48 * 2**20 - MAX_LINE} characters cut]", "after"]
