"""The promotion policy: how much evidence each level asks for. The defaults are the
README's; a YAML file (`--policy FILE`, else `$RUNBOOK_HOME/maturity-policy.yaml` when
it exists) overrides any of them, checked at `file:line:col`."""

from __future__ import annotations

import re
from pathlib import Path

from msgspec import Struct, field

from engine.core.errors import UsageError
from engine.ledger import default_home
from engine.ledger.demotion import DemotionRule
from engine.model.settings_file import load_settings
from engine.model.yamlsource import Source

POLICY_FILE = "maturity-policy.yaml"
_DAYS = re.compile(r"([1-9][0-9]{0,3})d")
_SPAN = re.compile(r"([1-9][0-9]{0,4})([hd])")


class ToScripted(Struct, frozen=True, forbid_unknown_fields=True):
    """1 → 2: completed guided runs (level 1, every step done), and clean tabletops
    (none asked by default)."""

    guided_runs: int = 3
    tabletops: int = 0


class ToAutomated(Struct, frozen=True, forbid_unknown_fields=True):
    """2 → 3: within `within`, supervised runs and their success rate, passed drills,
    exercised undos and clean tabletops (none asked by default); rollback failures of
    this content at any time."""

    within: str = "30d"
    supervised_runs: int = 5
    success_rate: float = 0.8
    passed_drills: int = 1
    exercised_undos: int = 1
    rollback_failed: int = 0
    tabletops: int = 0


class Demote(Struct, frozen=True, forbid_unknown_fields=True):
    """3 → 2 at once: this many escalations about a level-3 content's runs within
    `escalations_within` (hours or days). Also, always: a run ending rollback_failed, two
    consecutive runs ending failed or not_recovered."""

    escalations: int = 3
    escalations_within: str = "24h"


class Policy(Struct, frozen=True, forbid_unknown_fields=True):
    """The whole policy file (every section optional)."""

    to_2: ToScripted = field(default_factory=ToScripted)
    to_3: ToAutomated = field(default_factory=ToAutomated)
    demote: Demote = field(default_factory=Demote)

    def demotion_rule(self) -> DemotionRule:
        """The ledger's rule for automatic demotions on escalations."""
        span = _SPAN.fullmatch(self.demote.escalations_within)
        unit = 3600.0 if span is None or span.group(2) == "h" else 86400.0
        count = int(span.group(1)) if span is not None else 24
        return DemotionRule(self.demote.escalations, count * unit)

    @property
    def window_seconds(self) -> float:
        return int(self.to_3.within[:-1]) * 86400.0


def load_policy(file: str | None, home: Path | None = None) -> tuple[Policy, str]:
    """The policy of `file`, else of the default file if it exists, else the defaults;
    with where it came from. UsageError (exit 2) at `file:line:col` for a bad file."""
    if file is None:
        default = (home or default_home()) / POLICY_FILE
        if not default.is_file():
            return Policy(), "defaults"
        file = str(default)
    hint = "see the README: Maturity on evidence, the policy file"
    policy, source = load_settings(file, Policy, hint)
    _check(policy, source)
    return policy, file


def _check(policy: Policy, source: Source) -> None:
    """Numbers in range and a window in days."""
    to_3 = policy.to_3
    problems = {
        ("to_3", "within"): None if _DAYS.fullmatch(to_3.within) else "expected days, e.g. 30d",
        ("to_3", "success_rate"): None
        if 0.0 <= to_3.success_rate <= 1.0
        else "expected a fraction from 0 to 1, e.g. 0.8",
        ("demote", "escalations_within"): None
        if _SPAN.fullmatch(policy.demote.escalations_within)
        else "expected hours or days, e.g. 24h or 2d",
    }
    counts = {
        ("to_2", "guided_runs"): policy.to_2.guided_runs,
        ("to_2", "tabletops"): policy.to_2.tabletops,
        ("to_3", "tabletops"): to_3.tabletops,
        ("to_3", "supervised_runs"): to_3.supervised_runs,
        ("to_3", "passed_drills"): to_3.passed_drills,
        ("to_3", "exercised_undos"): to_3.exercised_undos,
        ("to_3", "rollback_failed"): to_3.rollback_failed,
        ("demote", "escalations"): policy.demote.escalations,
    }
    for path, count in counts.items():
        problems[path] = None if count >= 0 else "expected a count, 0 or more"
    for path, problem in problems.items():
        if problem is not None:
            raise UsageError(
                f"{'.'.join(path)}: {problem}",
                "see the README: Maturity on evidence, the policy file",
                source.at(path),
            )
