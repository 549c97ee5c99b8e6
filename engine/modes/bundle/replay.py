"""`runbook replay FILE.tar.gz`: a verified bundle's run judged again against the current
playbook and engine, executing nothing (no step, no probe): what would now differ."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from typing import Any

from msgspec import Struct
from msgspec.structs import asdict

from engine import __version__
from engine.core.errors import EngineError, UsageError
from engine.model.playbook import Playbook, Sli
from engine.modes.bundle.judge import Judgement, Unjudged, judge_run, recorded_run
from engine.modes.bundle.verify import Bundle, open_bundle, recorded_file
from engine.playbook.loader import load_playbook

# The `alert` variables a run had, from the recorded notification body and the alert's
# position in it (given by the caller: the webhook's reading of a body sits above the
# modes); ValueError or IndexError when the body does not have it.
AlertVariables = Callable[[bytes, int], Mapping[str, Any]]


class ReplayRequest(Struct, frozen=True):
    bundle: str
    playbook: str | None = None  # default: the file the run recorded, where it still is
    alert_variables: AlertVariables | None = None


class Replay(Struct, frozen=True):
    """The verdict: the run, the playbook judged against, each difference, and what the
    record could not settle."""

    bundle: str
    run_id: str
    playbook: str
    verified: list[str]
    recorded_engine: str
    engine: str
    judgement: Judgement

    @property
    def same(self) -> bool:
        return not self.judgement.differences


def replay(request: ReplayRequest) -> Replay:
    """Verify the bundle (RefusedError, exit 5, for one not as exported), load the
    playbook to judge against (exit 2 when there is none), and judge the run."""
    bundle = _judged(open_bundle(request.bundle))
    file = _playbook_file(bundle, request.playbook)
    playbook = load_playbook(file)
    recorded = recorded_run(bundle.run, bundle.events)
    alert, unjudged = _alert(bundle, request.alert_variables)
    judgement = judge_run(recorded, playbook, alert, _recorded_sli(bundle, playbook))
    judgement.unjudged[:0] = unjudged
    recorder = bundle.manifest.get("recorded_by")
    recorder = recorder if isinstance(recorder, dict) else {}
    return Replay(
        bundle=request.bundle,
        run_id=recorded.run_id,
        playbook=file,
        verified=bundle.members,
        recorded_engine=str(recorder.get("engine_version", "unknown")),
        engine=__version__,
        judgement=judgement,
    )


def _judged(bundle: Bundle) -> Bundle:
    """The run to judge: the bundle's own, or for a drill the run of its playbook (the
    remediation), as a bundle of that run alone."""
    drill = bundle.manifest.get("drill")
    if not isinstance(drill, dict):
        return bundle
    remediation = drill.get("remediate_run")
    if not isinstance(remediation, str) or not remediation:
        raise UsageError(
            f"drill {drill.get('drill_id')} never ran its playbook (verdict"
            f" {drill.get('verdict')}): there is no remediation to judge",
            "replay the bundle of a drill that got as far as the remediation, or of a run",
        )
    return bundle.part(remediation)


def _playbook_file(bundle: Bundle, given: str | None) -> str:
    if given is not None:
        return given
    recorded = recorded_file(bundle)
    if recorded is not None and os.path.exists(recorded):
        return str(recorded)
    raise UsageError(
        f"the playbook the run recorded ({recorded or 'none named'}) is not there",
        "name the playbook to judge the run against: runbook replay FILE.tar.gz --playbook FILE",
    )


def _recorded_sli(bundle: Bundle, playbook: Playbook) -> Sli | None:
    """The SLI of the playbook text the run recorded, when this engine can read it."""
    if not bundle.playbook_text:
        return None
    try:
        return load_playbook(playbook.file, text=bundle.playbook_text).sli
    except (EngineError, OSError):
        return None


def _alert(
    bundle: Bundle, variables: AlertVariables | None
) -> tuple[Mapping[str, Any], list[Unjudged]]:
    """The `alert` variables the run had: those of the alert that started it, read from
    the recorded notification body; none for a run no alert started."""
    trigger = bundle.manifest.get("trigger")
    if not isinstance(trigger, dict):
        return {}, []
    payload = trigger.get("payload")
    position = trigger.get("position")
    if not isinstance(payload, dict) or not isinstance(position, int):
        why = f"the alert's body is not in the bundle ({trigger.get('payload_status')})"
        return {}, [Unjudged("alert", f"{why}: a `when:` on `alert` cannot be judged")]
    if variables is None:
        return {}, [Unjudged("alert", "the alert's variables cannot be read here")]
    try:
        return variables(json.dumps(payload).encode(), position), []
    except (ValueError, IndexError) as exc:
        return {}, [Unjudged("alert", f"the recorded alert cannot be read: {exc}")]


def render_text(done: Replay) -> str:
    found = done.judgement
    lines = [
        f"replay of run {done.run_id} against {done.playbook}",
        f"  verified:  {len(done.verified)} members of {done.bundle} (SHA256SUMS)",
        f"  engine:    recorded by {done.recorded_engine}, judged by {done.engine}",
    ]
    if found.differences:
        lines.append(f"{len(found.differences)} difference(s):")
    for diff in found.differences:
        where = f" ({diff.where})" if diff.where else ""
        step = f" {diff.step}" if diff.step else ""
        lines.append(f"  - {diff.what}{step}{where}")
        lines.append(f"      recorded: {diff.recorded}")
        lines.append(f"      now:      {diff.now}")
    for note in found.unjudged:
        step = f" {note.step}" if note.step else ""
        lines.append(f"  not judged: {note.what}{step}: {note.reason}")
    if done.same:
        lines.append("no difference: the current playbook and engine would decide as the run did")
    return "\n".join(lines)


def render_json(done: Replay) -> str:
    return json.dumps(
        {
            "bundle": done.bundle,
            "run_id": done.run_id,
            "playbook": done.playbook,
            "verified": done.verified,
            "recorded_engine": done.recorded_engine,
            "engine": done.engine,
            "same": done.same,
            "differences": [asdict(diff) for diff in done.judgement.differences],
            "unjudged": [asdict(note) for note in done.judgement.unjudged],
        },
        indent=2,
    )
