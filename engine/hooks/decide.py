"""What to do with one firing alert: which playbooks answer it, and at which level.

Maturity decides, at the effective level (a level-3 playbook demoted in the ledger is
at level 2): a level-3 playbook runs unattended; a level-2 playbook is proposed
to a human; a level-1 playbook is suggested as a checklist. An alert no playbook
matches, or whose labels do not make valid inputs, starts nothing, and says why.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from engine.core.errors import EngineError
from engine.hooks.binding import BindingError, alert_namespace, bind_inputs
from engine.hooks.matching import matching_playbooks
from engine.hooks.payload import AlertPayload
from engine.ledger import new_run_id
from engine.ledger.evidence import MaturityChange
from engine.ledger.inbox import BAD_INPUT, NO_MATCH, PROPOSED, RUN, SUGGESTED, Decision
from engine.model.playbook import Playbook
from engine.run.context.variables import base_variables
from engine.run.target_lock import render_targets
from engine.templating.redaction import Redactor

Demotions = Callable[[Playbook], MaturityChange | None]


def _none(_playbook: Playbook) -> MaturityChange | None:
    return None


def decisions_for(
    alert: AlertPayload,
    playbooks: Sequence[Playbook],
    proposal_seconds: float = 3600.0,
    demotion: Demotions = _none,
) -> list[Decision]:
    """One decision per matching playbook, or one saying that none matched; a proposal
    may be approved for `proposal_seconds`. `demotion`: the recorded demotion that
    lowers a playbook's level, if any."""
    matched = matching_playbooks(playbooks, alert)
    if not matched:
        name = alert.labels.get("alertname", "")
        return [Decision(NO_MATCH, f"no served playbook has a trigger matching alert {name!r}")]
    expires_at = time.time() + proposal_seconds
    return [_decision(playbook, alert, expires_at, demotion(playbook)) for playbook in matched]


def _decision(
    playbook: Playbook, alert: AlertPayload, expires_at: float, demoted: MaturityChange | None
) -> Decision:
    meta = playbook.metadata
    level = meta.maturity if demoted is None else demoted.to_level
    file = str(Path(playbook.file).resolve())
    about: dict[str, Any] = {
        "playbook": meta.name,
        "version": meta.version,
        "content_hash": playbook.content_hash,
        "file": file,
    }
    try:
        inputs = bind_inputs(playbook, alert)
    except BindingError as exc:
        return Decision(BAD_INPUT, f"the alert's labels make no valid inputs: {exc}", **about)
    if level >= 3:
        try:
            targets = lock_keys(playbook, inputs, alert)
        except EngineError as exc:
            return Decision(BAD_INPUT, f"its targets do not render: {exc.message}", **about)
        reason = "level 3: runs unattended"
        return Decision(RUN, reason, inputs=inputs, run_id=new_run_id(), targets=targets, **about)
    if level == 2:
        why = "level 2" if demoted is None else _demoted(demoted)
        reason = f"{why}: proposed; a human approves it after reading its plan (runbook approve)"
        return Decision(PROPOSED, reason, inputs=inputs, expires_at=expires_at, **about)
    reason = f"level 1: suggested; a human follows its checklist: runbook run {file}"
    return Decision(SUGGESTED, reason, inputs=inputs, **about)


def _demoted(demoted: MaturityChange) -> str:
    return f"effective level {demoted.to_level}: {demoted.reason} ({demoted.change_id})"


def lock_keys(
    playbook: Playbook, inputs: Mapping[str, Any], alert: AlertPayload
) -> tuple[str, ...]:
    """The run's targets, rendered as the run will render them (from its inputs and the
    alert; a target needing a secret is refused there too)."""
    variables = base_variables(playbook, inputs, {}, "", "hook")
    variables.alert = alert_namespace(alert)
    return render_targets(playbook, variables, Redactor({}))


def input_arguments(inputs: Mapping[str, Any]) -> dict[str, str]:
    """Bound inputs as `runbook run -i` would give them (they are checked again there)."""
    return {name: _argument(value) for name, value in inputs.items()}


def _argument(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
