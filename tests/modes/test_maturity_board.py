"""The board's tabletops: those the rules for the next level count (since the last
demotion; for level 3 within the policy's window), as the verdict counts them."""

from __future__ import annotations

from engine.ledger.evidence import MaturityChange
from engine.modes.maturity.board import counted_tabletops, since_demotion, tabletops_line
from engine.modes.maturity.evidence import TABLETOP
from engine.modes.maturity.evidence import EvidenceRow as Row
from engine.modes.maturity.policy import Policy, ToAutomated, ToScripted
from engine.modes.maturity.verdict import judge

NOW = 1_800_000_000.0
DAY = 86400.0
ASKING = Policy(to_2=ToScripted(guided_runs=0, tabletops=1), to_3=ToAutomated(tabletops=1))
ROWS = [
    Row("old", TABLETOP, NOW - 40 * DAY, "completed", True),
    Row("before", TABLETOP, NOW - 5 * DAY, "completed", True),
    Row("after", TABLETOP, NOW - DAY, "completed", False, "missing permission at purge"),
]


def _demotion(at: float) -> MaturityChange:
    return MaturityChange(
        "m-demoted", "pb", "1.0.0", "h", "pb.yaml", "demote", 2, 1, "ana", at, "flaky", [], ""
    )


def _verdict_rows(target: int, changes: list[MaturityChange]) -> list[str]:
    verdict = judge(target, since_demotion(ROWS, changes), [], ASKING, now=NOW)
    (rule,) = [rule for rule in verdict.rules if rule.rule == "tabletops"]
    return rule.rows


def test_for_level_3_only_the_tabletops_within_the_window_count() -> None:
    found = counted_tabletops(ROWS, [], 3, ASKING, NOW)

    assert (found.window, found.count, found.clean, found.not_counted) == ("within 30d", 2, 1, 1)
    assert found.last == "after"
    assert found.open_gaps == ["missing permission at purge"]
    assert _verdict_rows(3, []) == ["before"]  # the clean one of the two the board counts
    assert tabletops_line(found) == (
        "  tabletops within 30d: 2 (1 clean); last after, its open gaps: missing permission"
        " at purge; 1 before, not counted"
    )


def test_after_a_demotion_only_the_tabletops_since_count() -> None:
    demoted = [_demotion(NOW - 3 * DAY)]

    to_2 = counted_tabletops(ROWS, demoted, 2, ASKING, NOW)
    to_3 = counted_tabletops(ROWS, demoted, 3, ASKING, NOW)

    assert (to_2.window, to_2.count, to_2.clean, to_2.not_counted) == (
        "since demotion m-demoted",
        1,
        0,
        2,
    )
    assert _verdict_rows(2, demoted) == []  # the one since is not clean
    assert to_3.window == "within 30d, since demotion m-demoted"
    assert (to_3.count, to_3.last) == (1, "after")


def test_without_a_demotion_level_2_counts_them_all() -> None:
    found = counted_tabletops(ROWS, [], 2, ASKING, NOW)

    assert (found.window, found.count, found.clean, found.not_counted) == ("at any time", 3, 2, 0)
    assert _verdict_rows(2, []) == ["old", "before"]
