"""The verdict on a promotion: each rule of the policy met, violated or missing
evidence, with its numbers and the rows behind it; the verdict is `promote` (every rule
met), `refuse` (one violated) or `inconclusive` (none violated, some evidence missing)."""

from __future__ import annotations

import time
from collections.abc import Sequence

from msgspec import Struct

from engine.core.findings import Finding
from engine.modes.maturity.evidence import (
    DRILL,
    GUIDED,
    ROLLBACK_FAILED,
    SUPERVISED,
    TABLETOP,
    UNDO,
    EvidenceRow,
)
from engine.modes.maturity.policy import Policy

MET = "met"
VIOLATED = "violated"
MISSING = "missing"
PROMOTE = "promote"
REFUSE = "refuse"
INCONCLUSIVE = "inconclusive"


class Rule(Struct, frozen=True):
    """One rule for the next level: its status, what was found against what it needs,
    and the ids of the rows behind it."""

    rule: str
    status: str
    found: float
    needed: str
    says: str
    rows: list[str]


class Verdict(Struct, frozen=True):
    verdict: str
    to_level: int
    rules: list[Rule]

    @property
    def missing(self) -> list[Rule]:
        return [rule for rule in self.rules if rule.status != MET]


def judge(
    to_level: int,
    rows: Sequence[EvidenceRow],
    static: Sequence[Finding],
    policy: Policy,
    now: float | None = None,
) -> Verdict:
    """The verdict on a promotion to `to_level` (2 or 3) from the evidence `rows` and
    the level's static findings (errors of the file checked at that level)."""
    rules = [_static(to_level, static)]
    if to_level == 2:
        rules.append(_at_least("guided_runs", _ok(rows, GUIDED), policy.to_2.guided_runs))
        rules += _tabletops(rows, policy.to_2.tabletops)
    else:
        since = (time.time() if now is None else now) - policy.window_seconds
        recent = [row for row in rows if row.at >= since]
        rules += _to_automated(rows, recent, policy)
        rules += _tabletops(recent, policy.to_3.tabletops, policy.to_3.within)
    statuses = {rule.status for rule in rules}
    verdict = REFUSE if VIOLATED in statuses else INCONCLUSIVE if MISSING in statuses else PROMOTE
    return Verdict(verdict, to_level, rules)


def _to_automated(
    rows: Sequence[EvidenceRow], recent: Sequence[EvidenceRow], policy: Policy
) -> list[Rule]:
    rule = policy.to_3
    supervised = [row for row in recent if row.kind == SUPERVISED]
    failed_rollbacks = [row.id for row in rows if row.kind == ROLLBACK_FAILED]
    return [
        _at_least(
            "supervised_runs", [row.id for row in supervised], rule.supervised_runs, rule.within
        ),
        _rate(supervised, rule.success_rate, rule.supervised_runs),
        _at_least("passed_drills", _ok(recent, DRILL), rule.passed_drills, rule.within),
        _at_least("exercised_undos", _ok(recent, UNDO), rule.exercised_undos, rule.within),
        Rule(
            "rollback_failed",
            VIOLATED if len(failed_rollbacks) > rule.rollback_failed else MET,
            len(failed_rollbacks),
            f"≤ {rule.rollback_failed}",
            f"{len(failed_rollbacks)} run(s) of this content ended rollback_failed",
            failed_rollbacks,
        ),
    ]


def _tabletops(rows: Sequence[EvidenceRow], needed: int, within: str = "") -> list[Rule]:
    """Clean tabletops (every step walked through, none blocked), when the policy asks
    for any: a policy without the key judges as before tabletops existed."""
    if needed <= 0:
        return []
    return [_at_least("tabletops", _ok(rows, TABLETOP), needed, within)]


def _ok(rows: Sequence[EvidenceRow], kind: str) -> list[str]:
    return [row.id for row in rows if row.kind == kind and row.ok]


def _at_least(name: str, ids: list[str], needed: int, within: str = "") -> Rule:
    span = f" within {within}" if within else ""
    status = MET if len(ids) >= needed else MISSING
    says = f"{len(ids)} of {needed} {name.replace('_', ' ')}{span}"
    return Rule(name, status, len(ids), f"≥ {needed}", says, ids)


def _rate(supervised: Sequence[EvidenceRow], threshold: float, minimum: int) -> Rule:
    """Recovered or completed among the supervised runs: violated below the threshold
    once the minimum count is reached, missing before."""
    good = [row for row in supervised if row.ok]
    rate = len(good) / len(supervised) if supervised else 0.0
    if len(supervised) < max(minimum, 1):
        status = MISSING
    else:
        status = MET if rate >= threshold else VIOLATED
    says = f"{len(good)} of {len(supervised)} supervised runs recovered or completed"
    ids = [row.id for row in supervised]
    return Rule("success_rate", status, round(rate, 4), f"≥ {threshold:g}", says, ids)


def _static(to_level: int, findings: Sequence[Finding]) -> Rule:
    errors = [finding for finding in findings if finding.severity == "error"]
    says = "; ".join(f"{f.location}: {f.message}" for f in errors) or "the file passes"
    status = VIOLATED if errors else MET
    return Rule(f"level_{to_level}_rules", status, len(errors), "0 errors", says, [])
