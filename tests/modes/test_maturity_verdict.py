"""The verdict on a promotion, from evidence rows: promote, refuse or inconclusive, each
rule with its numbers and rows; the window of the policy."""

from __future__ import annotations

from engine.core.findings import Finding, Location
from engine.modes.maturity.evidence import (
    DRILL,
    GUIDED,
    ROLLBACK_FAILED,
    SUPERVISED,
    TABLETOP,
    UNDO,
)
from engine.modes.maturity.evidence import EvidenceRow as Row
from engine.modes.maturity.policy import Policy, ToAutomated, ToScripted
from engine.modes.maturity.verdict import judge

NOW = 1_800_000_000.0
DAY = 86400.0
DEFAULTS = Policy()


def _supervised(count: int, failed: int = 0, age_days: float = 1) -> list[Row]:
    return [
        Row(f"r{i}", SUPERVISED, NOW - age_days * DAY, "failed" if i < failed else "recovered",
            i >= failed)
        for i in range(count)
    ]  # fmt: skip


def _rest() -> list[Row]:
    return [Row("d1", DRILL, NOW - DAY, "passed", True), Row("r9", UNDO, NOW - DAY, "", True)]


def _statuses(rows: list[Row], policy: Policy = DEFAULTS) -> tuple[str, dict[str, str]]:
    verdict = judge(3, rows, [], policy, now=NOW)
    return verdict.verdict, {rule.rule: rule.status for rule in verdict.rules}


def test_every_rule_met_is_promote_with_the_rows_behind_it() -> None:
    verdict = judge(3, _supervised(5) + _rest(), [], Policy(), now=NOW)

    assert verdict.verdict == "promote" and verdict.missing == []
    rules = {rule.rule: rule for rule in verdict.rules}
    assert rules["supervised_runs"].rows == [f"r{i}" for i in range(5)]
    assert rules["passed_drills"].rows == ["d1"] and rules["exercised_undos"].rows == ["r9"]


def test_too_few_runs_is_inconclusive_even_when_some_failed() -> None:
    verdict, statuses = _statuses(_supervised(4, failed=2) + _rest())

    assert verdict == "inconclusive"
    assert statuses["supervised_runs"] == statuses["success_rate"] == "missing"


def test_a_success_rate_below_the_threshold_with_enough_runs_refuses() -> None:
    assert _statuses(_supervised(5, failed=1) + _rest())[0] == "promote"  # 80 %

    verdict, statuses = _statuses(_supervised(5, failed=2) + _rest())  # 60 %

    assert verdict == "refuse" and statuses["success_rate"] == "violated"


def test_runs_older_than_the_window_do_not_count_a_failed_rollback_always_does() -> None:
    old = _supervised(5, age_days=31)
    assert _statuses(old + _rest())[1]["supervised_runs"] == "missing"
    assert _statuses(old + _rest(), Policy(to_3=ToAutomated(within="60d")))[0] == "promote"

    failed = Row("r7", ROLLBACK_FAILED, NOW - 90 * DAY, "rollback_failed", False)
    verdict, statuses = _statuses(_supervised(5) + _rest() + [failed])

    assert verdict == "refuse" and statuses["rollback_failed"] == "violated"


def test_a_failing_static_rule_refuses_and_guided_runs_count_for_level_2() -> None:
    finding = Finding(Location("pb.yaml", 3, 5), "steps[0]", "no timeout")
    guided = [Row(f"g{i}", GUIDED, NOW, "completed", i != 0) for i in range(4)]

    assert judge(2, guided, [], Policy(), now=NOW).verdict == "promote"
    refused = judge(2, guided, [finding], Policy(), now=NOW)
    assert refused.verdict == "refuse"
    assert "pb.yaml:3:5: no timeout" in refused.rules[0].says


def test_a_policy_asking_for_tabletops_counts_clean_ones_at_each_level() -> None:
    rows = [
        Row("t1", TABLETOP, NOW - DAY, "completed", False, "missing permission at purge"),
        Row("t2", TABLETOP, NOW - 40 * DAY, "completed", True),  # outside 30d
        Row("t3", TABLETOP, NOW - DAY, "completed", True),
    ]
    asking = Policy(to_2=ToScripted(guided_runs=0, tabletops=2), to_3=ToAutomated(tabletops=2))

    to_2 = {rule.rule: rule for rule in judge(2, rows, [], asking, now=NOW).rules}
    to_3 = {rule.rule: rule for rule in judge(3, rows, [], asking, now=NOW).rules}
    default = {rule.rule for rule in judge(2, rows, [], Policy(), now=NOW).rules}

    assert (to_2["tabletops"].status, to_2["tabletops"].rows) == ("met", ["t2", "t3"])
    assert (to_3["tabletops"].status, to_3["tabletops"].rows) == ("missing", ["t3"])
    assert "tabletops" not in default
