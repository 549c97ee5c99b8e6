"""Where mypy checks every SLI probe module against `Probe`: the registry loads them
lazily by name, so it cannot. Nothing imports this module at run time; a test checks that
it names every registered probe."""

from __future__ import annotations

from engine.sli import command, http, kubernetes, prometheus
from engine.sli.registry import Probe

CHECKED: dict[str, Probe] = {
    "prometheus": prometheus,
    "http": http,
    "command": command,
    "kubernetes": kubernetes,
}
