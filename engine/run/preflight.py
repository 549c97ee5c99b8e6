"""Everything checked before step 1: the playbook, inputs, secrets, templates, and
whether this run can finish without a human it does not have."""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from msgspec import Struct, field

from engine.core.errors import RefusedError
from engine.core.redactions import Redactions
from engine.ledger import (
    LEDGER_FILE,
    VersionReused,
    default_home,
    recorded_with_other_content,
)
from engine.model.playbook import Playbook
from engine.model.textfile import read_bounded
from engine.playbook.compiled import load_checked
from engine.playbook.inputs import bind_inputs
from engine.playbook.traits import needs_hands
from engine.playbook.trust import check_playbook_owner
from engine.run.context.secrets import (
    SecretStatus,
    load_secrets,
    preview_secrets,
    read_needed_secrets,
)
from engine.run.context.variables import RunVariables, base_variables
from engine.run.plan import PlannedStep, build_plan, plan_variables, unavailable_types
from engine.run.target_lock import render_targets
from engine.steps.registry import playbook_hooks
from engine.templating.redaction import Redactor


class RunRequest(Struct, frozen=True):
    """What the caller (CLI, webhook, test) asks for."""

    file: str
    inputs: Mapping[str, str] = field(default_factory=dict)
    dry_run: bool = False
    assume_yes: bool = False
    force: bool = False
    interactive: bool = False
    home: Path | None = None
    environ: Mapping[str, str] | None = None
    alert: Mapping[str, Any] = field(default_factory=dict)
    inventory: str | None = None  # SSH hosts file; None: $RUNBOOK_INVENTORY or beside the playbook
    wait_lock: float = 0.0  # seconds to wait for a target another run holds (0: refuse at once)
    lock_owner: str | None = None  # the leases are held by this owner (a drill), not the run
    # where the run registers its redactor: the caller's error handler redacts with it
    redactions: Redactions = field(default_factory=Redactions)
    operator: str | None = None  # who asked, when not the OS user (e.g. an Alertmanager receiver)
    trigger: str | None = None  # the webhook decision that started the run (`runbook serve`)
    # A playbook the caller already checked, with the text it was checked from: used when
    # the file still holds exactly that text (a server that keeps its playbooks loaded).
    checked: tuple[str, Playbook] | None = None
    # The content the caller decided on (a webhook decision, an approved proposal): the
    # run is refused (exit 5) if the file holds other content now.
    content_hash: str | None = None


class Prepared(Struct):
    """A run that passed every check that needs no side effect."""

    request: RunRequest
    playbook: Playbook
    variables: RunVariables
    redactor: Redactor
    source: str
    mode: str
    plan: list[PlannedStep] = field(default_factory=list)
    refusal: str = ""
    refusal_hint: str = ""
    parent_run: str | None = None
    targets: tuple[str, ...] = ()  # the rendered lock keys (not for a dry run)
    # The variables the secrets were read from: withheld from every command the run starts.
    withheld_env: frozenset[str] = frozenset()
    # A dry run's view of the declared secrets (set or not), or a rollback's of those its
    # undos read; empty for a live run, which has them all or does not start.
    secrets: list[SecretStatus] = field(default_factory=list)


def prepare(request: RunRequest, run_id: str, mode: str) -> Prepared:
    """Load, bind and render everything; raises EngineError (exit 2) on bad input."""

    check_playbook_owner(request.file, executes=not request.dry_run)
    source = read_source(request.file)
    known = request.checked
    playbook = known[1] if known and known[0] == source else load_checked(request.file, source)
    if request.content_hash is not None and playbook.content_hash != request.content_hash:
        raise RefusedError(
            f"{request.file} changed since it was decided on (content {request.content_hash[:12]},"
            f" now {playbook.content_hash[:12]}): not run",
            "read its new plan: runbook plan FILE; an alert's next notification is decided on"
            " the new content",
        )
    if not request.dry_run:
        refuse_reused_version(playbook, request.home)
    inputs = bind_inputs(playbook.inputs, request.inputs)
    prepared = assemble(request, playbook, source, inputs, run_id, mode)
    prepared.plan = build_plan(playbook, plan_variables(prepared.variables))
    if not request.dry_run:
        prepared.targets = render_targets(playbook, prepared.variables, prepared.redactor)
        prepared.refusal, prepared.refusal_hint = refusal(playbook, request)
    if not request.dry_run and not prepared.refusal:  # e.g. a wrong cluster: before step 1
        prepared.refusal, prepared.refusal_hint = step_type_refusal(
            playbook, prepared.variables.as_mapping()
        )
    return prepared


def refuse_reused_version(playbook: Playbook, home: Path | None) -> None:
    """Before anything runs: refuse (exit 2, at `version:`) a playbook whose version the
    ledger recorded with another content. The ledger checks again as it records the run."""
    found = reused_version(playbook, home)
    if found is not None:
        meta = playbook.metadata
        raise VersionReused(meta.name, meta.version, found, meta.version_location)


def reused_version(playbook: Playbook, home: Path | None) -> str | None:
    """The run that recorded this playbook's version with another content, if any (a
    ledger that does not exist yet recorded nothing)."""
    path = (home or default_home()) / LEDGER_FILE
    if not playbook.evidence_hash or not path.exists():
        return None
    meta = playbook.metadata
    return recorded_with_other_content(path, meta.name, meta.version, playbook.evidence_hash)


def read_source(file: str) -> str:
    """The playbook text, read once: what is validated is exactly what is recorded."""

    return read_bounded(file)


def assemble(
    request: RunRequest,
    playbook: Playbook,
    source: str,
    inputs: Mapping[str, Any],
    run_id: str,
    mode: str,
    needed_secrets: Collection[str] | None = None,
) -> Prepared:
    """Secrets, redaction and variables around a loaded playbook and bound inputs. With
    `needed_secrets`, the run reads only those (`read_needed_secrets`): `secrets` says
    which of them are set, and the caller refuses it before any change when one is not."""
    environ = os.environ if request.environ is None else request.environ
    secrets, placeholders, statuses = _secrets(request, playbook, environ, needed_secrets)
    withheld = frozenset(spec.env for spec in playbook.secrets.values() if spec.env)
    redactor = Redactor(secrets)  # the placeholders are no secret: they stay visible
    request.redactions.add(redactor.redact)  # before anything can fail with a secret in it
    variables = base_variables(playbook, inputs, {**secrets, **placeholders}, run_id, mode)
    variables.alert = dict(request.alert)
    for hook in playbook_hooks().values():  # e.g. the playbook's `kubernetes:` block
        variables.playbook = {**variables.playbook, **hook.run_variables(playbook, environ)}
    return Prepared(
        request,
        playbook,
        variables,
        redactor,
        source,
        mode,
        withheld_env=withheld,
        secrets=statuses,
    )


def _secrets(
    request: RunRequest,
    playbook: Playbook,
    environ: Mapping[str, str],
    needed: Collection[str] | None,
) -> tuple[dict[str, str], dict[str, str], list[SecretStatus]]:
    """(values, placeholders, statuses): a live run needs every secret (SecretError,
    exit 2, before step 1); a dry run changes nothing, so one not set is a placeholder."""
    base_dir = Path(playbook.file).resolve().parent
    if needed is not None:
        return read_needed_secrets(playbook.secrets, needed, base_dir, environ)
    if request.dry_run:
        return preview_secrets(playbook.secrets, base_dir, environ)
    return load_secrets(playbook.secrets, base_dir, environ), {}, []


def step_type_refusal(playbook: Playbook, variables: Mapping[str, Any]) -> tuple[str, str]:
    """Why a step type will not let this run start (e.g. a wrong cluster), or ("", "")."""
    for hook in playbook_hooks().values():
        reason, hint = hook.refusal(playbook, variables)
        if reason:
            return reason, hint
    return "", ""


def refusal(playbook: Playbook, request: RunRequest) -> tuple[str, str]:
    """Why this run cannot go from start to finish here, or ("", "")."""
    missing = unavailable_types(playbook)
    if missing:
        return f"step type(s) not available in this release: {', '.join(missing)}", (
            "use `runbook plan` to see what the playbook would do"
        )
    if request.interactive:
        return "", ""
    return _headless_refusal(playbook, request.assume_yes)


def _headless_refusal(playbook: Playbook, assume_yes: bool) -> tuple[str, str]:
    hint_terminal = "run it from a terminal"
    if playbook.metadata.maturity == 1:
        return "a level-1 playbook is a guided checklist and needs a human", hint_terminal
    manual = [s.id for s in playbook.steps if needs_hands(s)]
    if manual:
        return f"no terminal for the manual step(s): {', '.join(manual)}", hint_terminal
    gated = [s.id for s in playbook.steps if s.confirm]
    if gated and not assume_yes:
        return f"no terminal to answer the confirm gate(s): {', '.join(gated)}", (
            "pass --yes to pre-approve them (recorded with your name), or use a terminal"
        )
    return "", ""
