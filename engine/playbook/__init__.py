"""Playbooks: the model (`model`), and loading a file into it (`loader`).

The loader's names are re-exported here, imported on first use: importing
`engine.playbook.model` (which every run needs) must not pull in YAML, the schema and the
template checks (which a run whose playbook is in the compiled cache never needs).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.playbook.loader import CheckReport, check_file, load_playbook
    from engine.playbook.model import Playbook

__all__ = ["CheckReport", "Playbook", "check_file", "load_playbook"]

_LAZY = {
    "CheckReport": "engine.playbook.loader",
    "check_file": "engine.playbook.loader",
    "load_playbook": "engine.playbook.loader",
    "Playbook": "engine.playbook.model",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
