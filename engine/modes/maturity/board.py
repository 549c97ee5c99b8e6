"""`runbook maturity [PATH…]`: per playbook, the declared level, the effective level
(lower when a demotion is recorded for this content), the evidence per rule for the next
level and what is missing."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import msgspec
from msgspec import Struct

from engine.core.findings import Finding
from engine.ledger import LEDGER_FILE, Content, Ledger, default_home
from engine.ledger.demotion import lowering
from engine.ledger.evidence import MaturityChange
from engine.model.playbook import Playbook
from engine.modes.maturity.evidence import (
    DRILL,
    ROLLBACK_FAILED,
    TABLETOP,
    EvidenceRow,
    evidence_rows,
)
from engine.modes.maturity.policy import Policy
from engine.modes.maturity.verdict import Rule, Verdict, judge
from engine.modes.validate import candidate_files, only_not_a_playbook
from engine.playbook.loader import CheckReport, check_file
from engine.playbook.maturity_edit import with_maturity

TOP = 3


class Standing(Struct, frozen=True):
    """Where one playbook content stands on the ladder."""

    file: str
    playbook: str
    version: str
    evidence_hash: str
    declared: int
    effective: int
    demoted_by: str | None  # the recorded demotion that lowered the effective level
    next: Verdict | None  # None at level 3
    evidence: list[EvidenceRow]
    changes: list[MaturityChange]
    tabletops: Tabletops


class Tabletops(Struct, frozen=True):
    """The tabletops of a content the rules for its next level count, in the window they
    count them in, and the open gaps of the last of them."""

    window: str  # "within 30d", "since demotion m…", "at any time"
    count: int
    clean: int
    last: str | None
    open_gaps: list[str]
    not_counted: int  # before the window: no evidence for the next level


def standing(playbook: Playbook, ledger: Ledger, policy: Policy) -> Standing:
    """Where `playbook` stands, from `ledger`, under `policy`."""
    name, hashed = playbook.name, playbook.evidence_hash
    rows = evidence_rows(ledger, Content(name, hashed, playbook.level_hashes))
    changes = [c for c in ledger.maturity_changes([name]) if c.evidence_hash == hashed]
    declared = playbook.metadata.maturity
    demoted = lowering(changes, declared)
    effective = demoted.to_level if demoted is not None else declared
    target = effective + 1
    verdict = None
    now = time.time()
    if target <= TOP:
        static = static_findings(playbook.file, target)
        verdict = judge(target, since_demotion(rows, changes), static, policy, now)
    return Standing(
        playbook.file,
        name,
        playbook.metadata.version,
        hashed,
        declared,
        effective,
        demoted.change_id if demoted is not None else None,
        verdict,
        rows,
        changes,
        counted_tabletops(rows, changes, target, policy, now),
    )


def _last_demotion(changes: Sequence[MaturityChange]) -> MaturityChange | None:
    demotions = [change for change in changes if change.action == "demote"]
    return max(demotions, key=lambda change: change.at) if demotions else None


def since_demotion(rows: list[EvidenceRow], changes: list[MaturityChange]) -> list[EvidenceRow]:
    """After a demotion of this content, a promotion needs evidence gathered since; a
    failed rollback counts at any time."""
    demotion = _last_demotion(changes)
    if demotion is None:
        return rows
    return [row for row in rows if row.at > demotion.at or row.kind == ROLLBACK_FAILED]


def counted_tabletops(
    rows: Sequence[EvidenceRow],
    changes: Sequence[MaturityChange],
    target: int,
    policy: Policy,
    now: float,
) -> Tabletops:
    """The tabletops the verdict on `target` counts: since the last demotion, and for
    level 3 within the policy's window (at the top level, as for level 3: what keeps it)."""
    tabletops = [row for row in rows if row.kind == TABLETOP]
    windows: list[str] = []
    start = float("-inf")  # the window counts rows at or after it
    if target >= TOP:
        start = now - policy.window_seconds
        windows.append(f"within {policy.to_3.within}")
    demotion = _last_demotion(changes)
    after = float("-inf")  # and rows strictly after the last demotion
    if demotion is not None:
        after = demotion.at
        if demotion.at >= start:
            windows.append(f"since demotion {demotion.change_id}")
    counted = [row for row in tabletops if row.at >= start and row.at > after]
    last = counted[-1] if counted else None
    return Tabletops(
        window=", ".join(windows) or "at any time",
        count=len(counted),
        clean=sum(row.ok for row in counted),
        last=None if last is None else last.id,
        open_gaps=[] if last is None or not last.detail else last.detail.split("; "),
        not_counted=len(tabletops) - len(counted),
    )


def static_findings(file: str, level: int) -> list[Finding]:
    """The findings of the file checked as if it declared `level`."""
    text = with_maturity(Path(file).read_text(encoding="utf-8"), file, level)
    return list(check_file(file, text).findings)


class Board(Struct, frozen=True):
    """The standings of the valid playbooks, and the errors of the invalid ones."""

    standings: list[Standing]
    invalid: list[Finding]


def board(paths: Sequence[str], policy: Policy, home: Path | None) -> Board:
    """The standing of every valid playbook under `paths` (files or folders); an invalid
    one is left off the board with its errors, and does not hide the others."""
    reports = [check_file(file) for file, _found in candidate_files(list(paths))]
    playbooks: list[Playbook] = []
    invalid: list[Finding] = []
    for report in reports:
        if only_not_a_playbook(report):
            continue
        if report.playbook is None or report.errors:
            invalid += _errors(report)
        else:
            playbooks.append(report.playbook)
    with Ledger.open((home or default_home()) / LEDGER_FILE) as ledger:
        return Board([standing(playbook, ledger, policy) for playbook in playbooks], invalid)


def _errors(report: CheckReport) -> tuple[Finding, ...]:
    return report.errors or report.findings


def _drills_of_cases(rows: Sequence[EvidenceRow]) -> dict[str, str]:
    """The drills of regression cases among the evidence, by id: `drill (case NAME)`, as
    the JSON's `detail` says."""
    return {row.id: row.detail for row in rows if row.kind == DRILL and row.detail}


def render_invalid(found: Board) -> str:
    """The errors of the playbooks left off the board, each at its file:line:col."""
    lines = [finding.render() for finding in found.invalid]
    files = len({finding.location.file for finding in found.invalid})
    lines.append(f"{files} invalid playbook(s) not on the board: fix them, then run it again")
    return "\n".join(lines)


def as_dict(found: Standing) -> dict[str, Any]:
    """The JSON shape of one standing (README: Maturity on evidence)."""
    data: dict[str, Any] = msgspec.to_builtins(found)
    nxt = data.pop("next")
    data["next_level"] = None if nxt is None else nxt["to_level"]
    data["verdict"] = None if nxt is None else nxt["verdict"]
    data["rules"] = [] if nxt is None else nxt["rules"]
    data["missing"] = [rule["rule"] for rule in data["rules"] if rule["status"] != "met"]
    return data


def tabletops_line(found: Tabletops) -> str | None:
    """The board's line of tabletops (None when the content had none)."""
    if not found.count and not found.not_counted:
        return None
    line = f"  tabletops {found.window}: {found.count} ({found.clean} clean)"
    if found.last is not None:
        line += f"; last {found.last}, its open gaps: {'; '.join(found.open_gaps) or 'none'}"
    if found.not_counted:
        line += f"; {found.not_counted} before, not counted"
    return line


def render_board(found: Board, output: str) -> str:
    """The board in `output` (text or json); JSON lists the valid playbooks only."""
    if output == "json":
        return json.dumps([as_dict(item) for item in found.standings], indent=2)
    empty = "" if found.invalid else "no playbooks found"
    return "\n\n".join(render_one(item) for item in found.standings) or empty


def render_one(item: Standing) -> str:
    level = f"level {item.declared}"
    if item.effective != item.declared:
        why = [c for c in item.changes if c.change_id == item.demoted_by]
        said = f"{why[0].reason}, by {why[0].operator}; " if why and why[0].reason else ""
        level += f", effective {item.effective} ({said}{item.demoted_by})"
    lines = [f"{item.playbook} {item.version} — {level}  ({item.file})"]
    tabletops = tabletops_line(item.tabletops)
    if tabletops is not None:
        lines.append(tabletops)
    if item.next is None:
        lines.append("  top level: nothing further to earn")
        return "\n".join(lines)
    lines.append(f"  to level {item.next.to_level}: {item.next.verdict}")
    cases = _drills_of_cases(item.evidence)
    lines += [render_rule(rule, cases) for rule in item.next.rules]
    return "\n".join(lines)


def render_rule(rule: Rule, labels: Mapping[str, str] | None = None) -> str:
    """One rule and the ids of its rows, each followed by its label in `labels` when it
    has one (a drill of a regression case: `drill (case NAME)`)."""
    mark = {"met": "ok", "violated": "VIOLATED", "missing": "missing"}[rule.status]
    told = labels or {}
    ids = [f"{id_} {told[id_]}" if id_ in told else id_ for id_ in rule.rows]
    rows = f"  [{', '.join(ids)}]" if rule.rows else ""
    return f"    {mark:<8} {rule.rule}: {rule.says} (needs {rule.needed}){rows}"
