"""The guards between an alert and a run: what may hold a level-3 run back.

In order, for a run that is not a duplicate:

1. the flap breaker: this alert already had `flap.runs` runs within `flap.within`
   (the remediation does not hold): `flapping`, escalated;
2. a run on one of its targets is queued or running: `busy`;
3. the cooldown: a run on one of its targets ended less than `cooldown` ago;
4. the budgets within `max_runs.window`: per target, per playbook, and the serve
   config's global `budget`: `budget_exhausted`, escalated.

A value a playbook's `guards:` does not set comes from the config's `guards:`, else the
default below. They are checked in the transaction that records the decision, which
one thread takes at a time, so two alerts never both pass a guard that only one may.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Mapping

from msgspec import Struct, structs

from engine.core.durations import format_seconds, parse_duration
from engine.hooks.config import ServeConfig
from engine.ledger.inbox import (
    BUDGET_EXHAUSTED,
    BUSY,
    COOLDOWN,
    FLAPPING,
    Decision,
    latest_run_on,
    runs_since,
)
from engine.model.guards import Guards

# The documented defaults.
DEFAULT_COOLDOWN = 300.0  # 5m
DEFAULT_PER_TARGET = 3
DEFAULT_PER_PLAYBOOK = 10
DEFAULT_WINDOW = 3600.0  # 1h
DEFAULT_FLAP_RUNS = 3
DEFAULT_FLAP_WITHIN = 3600.0
DEFAULT_GLOBAL_RUNS = 30
DEFAULT_GLOBAL_WINDOW = 3600.0


class GuardPolicy(Struct, frozen=True):
    """The guards of one playbook, every value resolved."""

    cooldown: float = DEFAULT_COOLDOWN
    per_target: int = DEFAULT_PER_TARGET
    per_playbook: int = DEFAULT_PER_PLAYBOOK
    window: float = DEFAULT_WINDOW
    flap_runs: int = DEFAULT_FLAP_RUNS
    flap_within: float = DEFAULT_FLAP_WITHIN
    global_runs: int = DEFAULT_GLOBAL_RUNS
    global_window: float = DEFAULT_GLOBAL_WINDOW


def policy_for(own: Guards | None, config: ServeConfig) -> GuardPolicy:
    """A playbook's guards: its own values, else the config's, else the defaults."""
    policy = GuardPolicy()
    if config.budget is not None:
        policy = structs.replace(
            policy,
            global_runs=config.budget.runs,
            global_window=parse_duration(config.budget.window),
        )
    for layer in (config.guards, own):
        if layer is not None:
            policy = _applied(policy, layer)
    return policy


def _applied(policy: GuardPolicy, layer: Guards) -> GuardPolicy:
    changes: dict[str, float | int] = {}
    if layer.cooldown is not None:
        changes["cooldown"] = parse_duration(layer.cooldown)
    if layer.max_runs is not None:
        runs = layer.max_runs
        if runs.per_target is not None:
            changes["per_target"] = runs.per_target
        if runs.per_playbook is not None:
            changes["per_playbook"] = runs.per_playbook
        if runs.window is not None:
            changes["window"] = parse_duration(runs.window)
    if layer.flap is not None:
        changes["flap_runs"] = layer.flap.runs
        changes["flap_within"] = parse_duration(layer.flap.within)
    return structs.replace(policy, **changes)


class Guarded:
    """The guard `Ledger.decide_alerts` puts each run to, by the playbook's content hash."""

    def __init__(self, policies: Mapping[str, GuardPolicy], fingerprint: str) -> None:
        self.policies = policies
        self.fingerprint = fingerprint

    def __call__(self, conn: sqlite3.Connection, decision: Decision) -> Decision:
        policy = self.policies.get(decision.content_hash or "", GuardPolicy())
        held = held_back(conn, policy, decision, self.fingerprint, time.time())
        if held is None:
            return decision
        kind, reason = held
        return structs.replace(decision, decision=kind, reason=reason, run_id=None)


def held_back(
    conn: sqlite3.Connection,
    policy: GuardPolicy,
    decision: Decision,
    fingerprint: str,
    now: float,
) -> tuple[str, str] | None:
    """(decision, reason) when a guard holds the run back, else None."""
    flaps = runs_since(conn, now - policy.flap_within, fingerprint=fingerprint)
    if flaps >= policy.flap_runs:
        return FLAPPING, (
            f"flapping: this alert already had {flaps} run(s) within"
            f" {format_seconds(policy.flap_within)}; escalated instead of running again"
        )
    for target in decision.targets:
        held = _target_held(conn, policy, target, now)
        if held is not None:
            return held
    return _over_budget(conn, policy, decision, now)


def _target_held(
    conn: sqlite3.Connection, policy: GuardPolicy, target: str, now: float
) -> tuple[str, str] | None:
    latest = latest_run_on(conn, target)
    if latest is None:
        return None
    run_id = latest["run_id"]
    if latest["status"] == "interrupted" and latest["ended_at"] is None:
        return BUSY, (
            f"run {run_id} on {target} was interrupted: its target waits for a human"
            f" (runbook show {run_id}; runbook rollback {run_id})"
        )
    if latest["state"] == "queued" or latest["ended_at"] is None:
        return BUSY, f"run {run_id} on {target} is not over yet"
    since = now - float(latest["ended_at"])
    if since < policy.cooldown:
        return COOLDOWN, (
            f"cooldown: run {latest['run_id']} on {target} ended {format_seconds(since)} ago"
            f" (cooldown {format_seconds(policy.cooldown)})"
        )
    return None


def _over_budget(
    conn: sqlite3.Connection, policy: GuardPolicy, decision: Decision, now: float
) -> tuple[str, str] | None:
    window = format_seconds(policy.window)
    for target in decision.targets:
        done = runs_since(conn, now - policy.window, target=target)
        if done >= policy.per_target:
            return BUDGET_EXHAUSTED, f"budget: {done} run(s) on {target} within {window}"
    done = runs_since(conn, now - policy.window, playbook=decision.playbook)
    if done >= policy.per_playbook:
        return BUDGET_EXHAUSTED, f"budget: {done} run(s) of {decision.playbook} within {window}"
    done = runs_since(conn, now - policy.global_window)
    if done >= policy.global_runs:
        within = format_seconds(policy.global_window)
        return BUDGET_EXHAUSTED, f"budget: {done} run(s) started by alerts within {within}"
    return None
