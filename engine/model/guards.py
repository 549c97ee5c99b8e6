"""What limits runs that alerts start, and whom to tell when they cannot help.

The same blocks are written in a playbook (`guards:`, `escalation:`) and in the
`runbook serve --config` file, where they are the defaults of every playbook that does
not set its own. Durations stay text here (`5m`); `engine.hooks.guards` reads them.
"""

from __future__ import annotations

from msgspec import Struct


class MaxRuns(Struct, frozen=True, forbid_unknown_fields=True):
    """At most so many runs started by alerts within `window`."""

    per_target: int | None = None
    per_playbook: int | None = None
    window: str | None = None


class Flap(Struct, frozen=True, forbid_unknown_fields=True):
    """`runs` runs for one alert within `within`: escalate instead of running again."""

    runs: int
    within: str


class Guards(Struct, frozen=True, forbid_unknown_fields=True):
    """`guards:`: cooldown after a run on a target, run budgets, the flap breaker."""

    cooldown: str | None = None
    max_runs: MaxRuns | None = None
    flap: Flap | None = None


class Webhook(Struct, frozen=True, forbid_unknown_fields=True):
    """POST a JSON summary to `url`, with the bearer token in `token_file` if given."""

    url: str
    token_file: str | None = None


class Escalation(Struct, frozen=True, forbid_unknown_fields=True):
    """`escalation:`: whom to tell; a webhook, a command (the summary on its stdin), or both."""

    webhook: Webhook | None = None
    command: tuple[str, ...] | None = None
