"""`runbook show`: a playbook's summary, or a run's timeline."""

from __future__ import annotations

import os

from engine.modes.catalog import describe_playbook
from engine.modes.history import show_run
from engine.playbook.loader import load_playbook


def show(target: str, output: str) -> str:
    if os.path.exists(target):
        return describe_playbook(load_playbook(target))

    return show_run(target, output)
