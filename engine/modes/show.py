"""`runbook show`: a playbook's summary, a run's timeline, or a drill's report."""

from __future__ import annotations

import os

from engine.ledger import is_drill_id
from engine.modes.catalog import describe_playbook, describe_playbook_json
from engine.modes.drill.history import show_drill
from engine.modes.history import show_run
from engine.playbook.loader import load_playbook


def show(target: str, output: str) -> str:
    """A playbook file's summary, the timeline of the run `target` names, or the report
    of the drill it names (`d…`)."""
    if os.path.exists(target):
        playbook = load_playbook(target)
        return describe_playbook_json(playbook) if output == "json" else describe_playbook(playbook)

    if is_drill_id(target):
        return show_drill(target, output)
    return show_run(target, output)
