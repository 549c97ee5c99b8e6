"""`runbook show`: a playbook's summary (with its effective level when the ledger holds
a demotion of its content), a run's timeline, a drill's report, or an incident."""

from __future__ import annotations

import json
import os
import time
from typing import Any

from msgspec import Struct

from engine.core.errors import EngineError
from engine.ledger import LEDGER_FILE, Ledger, default_home, is_drill_id
from engine.ledger.evidence import MaturityChange
from engine.model.playbook import Playbook
from engine.modes.catalog import describe_playbook, describe_playbook_json
from engine.modes.drill.history import show_drill
from engine.modes.history import show_run
from engine.modes.incidents import is_incident_id, show_incident
from engine.playbook.loader import load_playbook


class Demotion(Struct, frozen=True):
    """A recorded demotion of a playbook's content, and how each run behind it ended."""

    change: MaturityChange
    outcomes: dict[str, str]


def show(target: str, output: str) -> str:
    """A playbook file's summary, the timeline of the run `target` names, the report
    of the drill it names (`d…`), or the incident it names (`i…`)."""
    if os.path.exists(target):
        return show_playbook(target, output)
    if is_drill_id(target):
        return show_drill(target, output)
    if is_incident_id(target):
        return show_incident(target, output)
    return show_run(target, output)


def show_playbook(file: str, output: str) -> str:
    """What the playbook of `file` does, its declared and effective level, and why."""
    playbook = load_playbook(file)
    demotion = demotion_of(playbook)
    if output == "json":
        return json.dumps(_as_json(playbook, demotion), indent=2, default=str)
    lines = describe_playbook(playbook).split("\n")
    return "\n".join([lines[0], *_level_lines(file, demotion), *lines[1:]])


def demotion_of(playbook: Playbook) -> Demotion | None:
    """The demotion recorded for this content that lowers its level (None without a
    ledger: nothing was recorded)."""
    path = default_home() / LEDGER_FILE
    if not path.is_file():
        return None
    meta = playbook.metadata
    with Ledger.open(path) as ledger:
        change = ledger.demotion_of(playbook.name, playbook.evidence_hash, meta.maturity)
        if change is None:
            return None
        return Demotion(change, {run: _outcome(ledger, run) for run in change.evidence})


def _outcome(ledger: Ledger, run_id: str) -> str:
    try:
        return ledger.get_run(run_id).status
    except EngineError:
        return "not in the ledger"


def _level_lines(file: str, demotion: Demotion | None) -> list[str]:
    if demotion is None:
        return []
    change = demotion.change
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(change.at))
    behind = ", ".join(f"{run} {status}" for run, status in demotion.outcomes.items())
    return [
        f"  level:   declared {change.from_level}, effective {change.to_level} since {since}"
        f" ({change.change_id}, by {change.operator})",
        f"  why:     {change.reason or '-'}",
        f"  runs:    {behind or '-'}",
        f"  promote: on evidence gathered since: runbook promote {file} --to {change.from_level}",
    ]


def _as_json(playbook: Playbook, demotion: Demotion | None) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(describe_playbook_json(playbook))
    declared = playbook.metadata.maturity
    data["effective_maturity"] = declared if demotion is None else demotion.change.to_level
    data["demotion"] = None
    if demotion is not None:
        change = demotion.change
        data["demotion"] = {
            "change_id": change.change_id,
            "operator": change.operator,
            "at": change.at,
            "from_level": change.from_level,
            "to_level": change.to_level,
            "reason": change.reason,
            "runs": [
                {"run_id": run, "outcome": status} for run, status in demotion.outcomes.items()
            ],
            "promote": f"runbook promote {playbook.file} --to {change.from_level}",
        }
    return data
