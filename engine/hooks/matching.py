"""Which playbooks an alert triggers: `metadata.triggers`, matched as Alertmanager would.

A trigger matches an alert when the alert's `alertname` label equals the trigger's
`alertname`, every label of `labels:` equals, and every matcher of `matchers:` passes.
A label the alert does not carry reads as the empty string, as in Alertmanager. A
playbook matches when any of its triggers does. Matching looks only at labels: whether
a resolved alert may start anything is the caller's decision.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from engine.hooks.payload import AlertPayload
from engine.model.playbook import Matcher, Playbook, Trigger
from engine.playbook.matchers import MatcherError, matcher_accepts, parse_matcher

__all__ = [
    "Matcher",
    "MatcherError",
    "matching_playbooks",
    "matching_trigger",
    "parse_matcher",
    "trigger_matches",
]


def trigger_matches(trigger: Trigger, labels: Mapping[str, str]) -> bool:
    """Whether an alert with these labels is one the trigger answers."""
    if labels.get("alertname", "") != trigger.alertname:
        return False
    if any(labels.get(name, "") != value for name, value in trigger.labels.items()):
        return False
    return all(matcher_accepts(m, labels.get(m.name, "")) for m in trigger.matchers)


def matching_trigger(playbook: Playbook, labels: Mapping[str, str]) -> Trigger | None:
    """The first of the playbook's triggers that the labels match, or None."""
    return next((t for t in playbook.metadata.triggers if trigger_matches(t, labels)), None)


def matching_playbooks(playbooks: Iterable[Playbook], alert: AlertPayload) -> list[Playbook]:
    """The playbooks, in the order given, with a trigger that matches the alert."""
    return [p for p in playbooks if matching_trigger(p, alert.labels) is not None]
