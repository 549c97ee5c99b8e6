"""`runbook show`: a playbook's summary, or a run's timeline."""

from __future__ import annotations

import os

from engine.modes.catalog import describe_playbook, describe_playbook_json
from engine.modes.history import show_run
from engine.playbook.loader import load_playbook


def show(target: str, output: str) -> str:
    """A playbook file's summary, or the timeline of the run `target` names."""
    if os.path.exists(target):
        playbook = load_playbook(target)
        return describe_playbook_json(playbook) if output == "json" else describe_playbook(playbook)

    return show_run(target, output)
