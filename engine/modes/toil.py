"""`runbook toil`: the manual, repetitive work each playbook cost humans over a window of
the ledger, and which to automate next.

A run is **toil** when a human did or supervised it: a run of a level-1 or level-2
playbook (the level its `run_started` event recorded) made by `runbook run` (also
`runbook approve` of a proposal), by `runbook serve` or by `runbook rollback`. Level-3 runs are
**automated**; drills (and the runs a drill is made of) are practice, counted apart;
dry runs and tabletops change nothing and are not counted, nor are refused runs (nothing
ran). The human time of a run is
read from its events (`engine.modes.toil_time`); the ranking is by human time per week.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from engine.core.errors import UsageError
from engine.core.events import EventKind, RunStarted, read_payload
from engine.core.outcome import Outcome
from engine.ledger import EventRow, Ledger, RunRow, is_drill_id
from engine.modes.history import open_ledger
from engine.modes.maturity.board import standing
from engine.modes.maturity.policy import load_policy
from engine.modes.toil_time import HumanTime, human_time
from engine.playbook.loader import check_file

TOIL_MODES = frozenset({"live", "guided", "hook", "rollback"})
TOIL_LEVELS = frozenset({1, 2})
# Practice (drills, tabletops) and runs that change nothing (dry runs): never toil.
PRACTICE_MODES = frozenset({"drill", "tabletop", "dry-run"})
WEEK = 7 * 86400.0
_EVERY_RUN = 1 << 31  # the ledger's `runs` takes a limit: this one keeps them all


@dataclass
class PlaybookToil:
    """One playbook's runs over the window, by kind, and the human time they took."""

    playbook: str
    versions: set[str] = field(default_factory=set)
    runs_by_mode: dict[str, int] = field(default_factory=dict)
    guided_runs: int = 0  # level 1
    supervised_runs: int = 0  # level 2
    automated_runs: int = 0  # level 3
    drills: int = 0
    time: HumanTime = field(default_factory=HumanTime)
    last_run: float | None = None  # when its latest toil run started
    operators: set[str] = field(default_factory=set)

    @property
    def toil_runs(self) -> int:
        return self.guided_runs + self.supervised_runs


@dataclass(frozen=True)
class Toil:
    """The toil report: the window (`since` to `until`, epoch seconds), and each playbook
    that ran in it, ranked: most human time per week first; `missing`: what each lacks
    for its next level (`missing_for_next_level`)."""

    since: float
    until: float
    playbooks: list[PlaybookToil]
    missing: dict[str, list[str] | None] = field(default_factory=dict)

    @property
    def weeks(self) -> float:
        return (self.until - self.since) / WEEK

    def per_week(self, count: float) -> float:
        return count / self.weeks


def missing_for_next_level(playbook: str, ledger: Ledger) -> list[str] | None:
    """What the evidence of `playbook` lacks for its next maturity level, one line per
    rule not met (none at level 3), as `runbook maturity` judges the file its last run
    read under the default policy; None when that file is gone, changed its name or
    is invalid, or the policy file is (then `runbook maturity FILE` says why)."""
    runs = ledger.runs(playbook=playbook, limit=1)
    file = ledger.run_info(runs[0].run_id).file if runs else ""
    if not file or not Path(file).is_file():
        return None
    report = check_file(file)
    if report.playbook is None or report.errors or report.playbook.name != playbook:
        return None
    try:
        policy, _ = load_policy(None)
    except UsageError:
        return None
    verdict = standing(report.playbook, ledger, policy).next
    if verdict is None:
        return []
    return [f"{rule.rule}: {rule.says}" for rule in verdict.missing]


def toil_report(period: float, now: float | None = None) -> Toil:
    """The toil of the last `period` seconds before `now`."""
    until = time.time() if now is None else now
    since = until - period
    with open_ledger() as ledger:
        rows = ledger.runs(since=since, with_drills=True, limit=_EVERY_RUN)
        by_name = _tally(ledger, rows)
        missing = {name: missing_for_next_level(name, ledger) for name in by_name}
    toil = Toil(since, until, [], missing)
    toil.playbooks.extend(sorted(by_name.values(), key=lambda p: _rank_key(toil, p)))
    return toil


def _rank_key(toil: Toil, entry: PlaybookToil) -> tuple[float, float, str]:
    return (-toil.per_week(entry.time.total), -toil.per_week(entry.toil_runs), entry.playbook)


def _tally(ledger: Ledger, rows: list[RunRow]) -> dict[str, PlaybookToil]:
    by_name: dict[str, PlaybookToil] = {}
    modes = {row.run_id: row.mode for row in rows}
    for row in rows:
        if row.status == Outcome.REFUSED:  # nothing ran: no one's work
            continue
        entry = by_name.setdefault(row.playbook, PlaybookToil(row.playbook))
        entry.versions.add(row.version)
        if _practice(row) or _of_practice(ledger, row, modes):
            entry.drills += is_drill_id(row.run_id)
            continue
        events = ledger.events(row.run_id)
        started = _started(events)
        if started is not None and row.mode in TOIL_MODES:
            _count(entry, row, started, events)
    return by_name


def _practice(row: RunRow) -> bool:
    """A drill, a run a drill is made of, or a run that changes nothing."""
    return is_drill_id(row.run_id) or row.mode in PRACTICE_MODES


def _of_practice(ledger: Ledger, row: RunRow, modes: dict[str, str]) -> bool:
    """A run made by a drill or by one of its runs (the rollback that reverts its
    inject)."""
    parent = row.parent_run
    if parent is None:
        return False
    mode = modes[parent] if parent in modes else ledger.get_run(parent).mode
    return is_drill_id(parent) or mode in PRACTICE_MODES


def _count(entry: PlaybookToil, row: RunRow, started: RunStarted, events: list[EventRow]) -> None:
    if started.maturity not in TOIL_LEVELS:
        entry.automated_runs += 1
        return
    if started.maturity == 1:
        entry.guided_runs += 1
    else:
        entry.supervised_runs += 1
    entry.runs_by_mode[row.mode] = entry.runs_by_mode.get(row.mode, 0) + 1
    entry.last_run = max(entry.last_run or row.started_at, row.started_at)
    entry.operators.update(_people(row, started, events))
    entry.time.add(human_time(started, row, events))


def _started(events: list[EventRow]) -> RunStarted | None:
    first = events[0] if events else None
    if first is None or first.kind != EventKind.RUN_STARTED:
        return None
    payload = read_payload(first.kind, first.data)
    return payload if isinstance(payload, RunStarted) else None


def _people(row: RunRow, started: RunStarted, events: list[EventRow]) -> set[str]:
    """Who ran it, who approved it, and who answered its confirm gates."""
    answered = {str(e.data.get("by")) for e in events if e.kind == EventKind.CONFIRM_ANSWER}
    approved = {started.approved_by} if started.approved_by else set()
    return {row.operator, *approved, *answered}
