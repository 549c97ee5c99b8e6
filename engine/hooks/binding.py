"""What an alert gives a run: its inputs, bound and checked, and the `alert` namespace.

An input takes, in order: the source its `from:` names (`labels.<name>` or
`annotations.<name>`), or else the alert's label of the input's name, then the
annotation of that name; failing those, its default. A label or annotation with an
empty value counts as absent (Prometheus treats an empty label as no label). The value
is then parsed and checked exactly as `runbook run -i NAME=VALUE` checks it (type,
pattern, allowed set, no leading `-`, no NUL): an alert is as untrusted as a command line.
It stays data: nothing here is rendered.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.hooks.payload import AlertPayload, decode_notification
from engine.model.playbook import InputSpec, Playbook
from engine.playbook import inputs as declared

__all__ = ["BindingError", "alert_namespace", "bind_inputs", "input_source", "recorded_alert"]


class BindingError(ValueError):
    """The alert cannot give the playbook its inputs; `reason` fits a ledger row."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def bind_inputs(playbook: Playbook, alert: AlertPayload) -> dict[str, Any]:
    """The typed inputs the alert gives the playbook; BindingError when one fails."""
    given = {
        name: value
        for name, spec in playbook.inputs.items()
        if (value := alert_value(spec, alert)) is not None
    }
    try:
        return declared.bind_inputs(playbook.inputs, given)
    except declared.InputError as exc:
        problems = [_where_looked(problem, playbook.inputs) for problem in exc.problems]
        raise BindingError("; ".join(problems)) from None


def alert_value(spec: InputSpec, alert: AlertPayload) -> str | None:
    """The text the alert holds for an input, or None when it holds none."""
    places = [spec.source] if spec.source else [f"labels.{spec.name}", f"annotations.{spec.name}"]
    for place in places:
        value = _lookup(alert, place)
        if value:
            return value
    return None


def input_source(spec: InputSpec) -> str:
    """Where an alert gives the input, as a person reads it (for a dry run's report)."""
    return spec.source or f"labels.{spec.name}, else annotations.{spec.name}"


def alert_namespace(alert: AlertPayload) -> dict[str, Any]:
    """The `alert` variables templates read: copies, so a run cannot change the alert."""
    return {
        "status": alert.status,
        "labels": dict(alert.labels),
        "annotations": dict(alert.annotations),
        "startsAt": alert.startsAt,
        "endsAt": alert.endsAt,
        "fingerprint": alert.fingerprint,
        "generatorURL": alert.generatorURL,
    }


def recorded_alert(body: bytes, position: int) -> dict[str, Any]:
    """The `alert` variables a run had, read as `runbook serve` read them from the body of
    the notification it came in and the alert's position there (PayloadError for a body
    that is not a notification, IndexError for a position it does not have)."""
    return alert_namespace(decode_notification(body).alerts[position])


def _lookup(alert: AlertPayload, place: str) -> str:
    kind, _, name = place.partition(".")
    tables: dict[str, Mapping[str, str]] = {
        "labels": alert.labels,
        "annotations": alert.annotations,
    }
    return tables.get(kind, {}).get(name, "")


def _where_looked(problem: str, specs: Mapping[str, InputSpec]) -> str:
    """A missing required input's problem, told with where the alert was looked at."""
    for name, spec in specs.items():
        if problem == f"input '{name}' is required":
            return f"{problem}: the alert has no {input_source(spec).replace(', else ', ' or ')}"
    return problem
