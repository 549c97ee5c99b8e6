"""`runbook serve --config FILE`: the defaults of the guards and the escalation, and the
global budget. Every key is optional; a wrong one is an error at `file:line:col`.

    guards:                 # what a playbook's own `guards:` does not set
      cooldown: 5m
      max_runs: {per_target: 3, per_playbook: 10, window: 1h}
      flap: {runs: 3, within: 1h}
    budget: {runs: 30, window: 1h}     # runs started by alerts, all playbooks together
    proposals: {expire_after: 1h}      # a level-2 proposal may be approved this long
    queue: {max_age: 15m}   # a run decided longer ago than this does not start (stale)
    retention: {payloads: 30d}  # notification bodies kept this long once all is settled
    incidents: {reopen_within: 10m}  # a firing this soon after its incident resolved reopens it
    escalation:             # for playbooks without their own `escalation:`
      webhook: {url: "https://chat.example/hooks/oncall", token_file: /etc/runbook/chat.token}
      command: [logger, -t, runbook]
"""

from __future__ import annotations

import re
from pathlib import Path

from msgspec import Struct

from engine.core.durations import parse_duration
from engine.core.errors import UsageError
from engine.model.guards import Escalation, Guards
from engine.model.settings_file import load_settings


class Budget(Struct, frozen=True, forbid_unknown_fields=True):
    """At most `runs` runs started by alerts within `window`, all playbooks together."""

    runs: int
    window: str = "1h"


class Proposals(Struct, frozen=True, forbid_unknown_fields=True):
    """How long a level-2 proposal may be approved (`runbook approve`)."""

    expire_after: str = "1h"


class Queue(Struct, frozen=True, forbid_unknown_fields=True):
    """How long a decided run may wait to start: past it, it acts on stale information
    (the alert may have resolved while the server was down) and does not start."""

    max_age: str = "15m"


class Retention(Struct, frozen=True, forbid_unknown_fields=True):
    """How long an accepted notification's body is kept once every alert in it is
    settled (its decisions and their reasons are kept for good)."""

    payloads: str = "30d"


class Incidents(Struct, frozen=True, forbid_unknown_fields=True):
    """A firing of an alert within `reopen_within` of the end of the incident the record
    resolved (its last endsAt) reopens that incident rather than opening a new one (a
    flapping alert); 0s (the default): it opens a new one."""

    reopen_within: str = "0s"


class ServeConfig(Struct, frozen=True, forbid_unknown_fields=True):
    """The config file's content; an absent file is all defaults."""

    guards: Guards | None = None
    budget: Budget | None = None
    escalation: Escalation | None = None
    proposals: Proposals = Proposals()
    queue: Queue = Queue()
    retention: Retention = Retention()
    incidents: Incidents = Incidents()

    @property
    def proposal_seconds(self) -> float:
        return parse_duration(self.proposals.expire_after)

    @property
    def queue_seconds(self) -> float:
        return parse_duration(self.queue.max_age)

    @property
    def reopen_seconds(self) -> float:
        return parse_duration(self.incidents.reopen_within)

    @property
    def retention_seconds(self) -> float:
        return parse_days(self.retention.payloads)


_DAYS = re.compile(r"([0-9]{1,5})d")


def parse_days(text: str) -> float:
    """Seconds of a duration that may also be written in days (`30d`); ValueError else."""
    days = _DAYS.fullmatch(text)
    return int(days.group(1)) * 86400.0 if days else parse_duration(text)


def load_config(file: str | None) -> ServeConfig:
    """Read and check `--config FILE`; UsageError (exit 2) with `file:line:col` otherwise."""
    if file is None:
        return ServeConfig()
    hint = "see `runbook serve --help` and the README's section on runbook serve"
    config, _ = load_settings(file, ServeConfig, hint)
    _check_durations(config, file)
    return config


def _check_durations(config: ServeConfig, file: str) -> None:
    guards = config.guards or Guards()
    found = {
        "guards.cooldown": guards.cooldown,
        "guards.max_runs.window": guards.max_runs.window if guards.max_runs else None,
        "guards.flap.within": guards.flap.within if guards.flap else None,
        "budget.window": config.budget.window if config.budget else None,
        "proposals.expire_after": config.proposals.expire_after,
        "queue.max_age": config.queue.max_age,
        "incidents.reopen_within": config.incidents.reopen_within,
    }
    found["retention.payloads"] = config.retention.payloads
    for where, text in found.items():
        if text is None:
            continue
        try:
            parse_days(text) if where == "retention.payloads" else parse_duration(text)
        except ValueError as exc:
            raise UsageError(f"{file}: {where}: {exc}") from None
    webhook = config.escalation.webhook if config.escalation else None
    if webhook and not webhook.url.startswith(("http://", "https://")):
        raise UsageError(f"{file}: escalation.webhook.url: expected an http:// or https:// URL")
    if webhook and webhook.token_file and not Path(webhook.token_file).is_absolute():
        raise UsageError(f"{file}: escalation.webhook.token_file: expected an absolute path")
