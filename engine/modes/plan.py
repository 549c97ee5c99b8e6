"""`runbook plan` (and `run --dry-run`): every step rendered with its undo and a verdict,
nothing changed, nothing recorded; with `--probe`, the SLI and the read-only steps are
read first."""

from __future__ import annotations

import sys
from collections.abc import Callable

from engine.modes.probe import probe_plan
from engine.playbook.trust import check_playbook_owner
from engine.run.context.secrets import require_secrets
from engine.run.plan import render_plan_json, render_plan_text
from engine.run.preflight import Prepared, RunRequest, prepare, reused_version


def plan_playbook(
    request: RunRequest, output: str, probe: bool = False, warn: Callable[[str], None] | None = None
) -> str:
    """The dry-run: everything rendered, nothing changed, nothing recorded. With `probe`,
    the SLI and the read-only steps are read first. A secret that is not set is a
    placeholder in the plan, and listed as missing; `probe` runs commands, so it needs
    every secret (SecretError, exit 2, otherwise)."""

    if probe:  # it runs the read-only steps: commands, as the playbook declares them
        check_playbook_owner(request.file, executes=True)
    prepared = prepare(request, run_id="dry-run", mode="dry-run")
    reused = reused_version(prepared.playbook, request.home)
    if reused is not None:
        say_warning = warn or (lambda text: print(text, file=sys.stderr))
        meta = prepared.playbook.metadata
        say_warning(
            f"warning: {meta.version_location}: version {meta.version} of {meta.name} was"
            f" recorded with other content (run {reused}); a run of this file is refused"
            " until `version` is bumped"
        )
    probed = None
    if probe:
        refuse_probe_without_secrets(prepared)
        probed = probe_plan(prepared)
        prepared.plan = probed.plan
    render = render_plan_json if output == "json" else render_plan_text
    text = render(prepared.playbook, prepared.plan, probed, prepared.secrets)
    return prepared.redactor.redact(text)


def refuse_probe_without_secrets(prepared: Prepared) -> None:
    """`--probe` runs the SLI probe and the read-only steps with the real secrets: a
    placeholder would reach a live system (and fail it, or lock an account), so every
    declared secret must be set."""
    require_secrets(
        prepared.secrets,
        "--probe runs the SLI probe and the read-only steps, which need the secrets",
        "set them, or leave out --probe: the plan alone shows a placeholder for them",
    )
