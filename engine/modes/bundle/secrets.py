"""The secrets an export scrubs again: those the recorded playbooks declare, read from
where a run reads them (the environment, a file beside the playbook) when the exporter
can, so that a value the ledger holds unredacted (an alert's body, kept as it arrived)
leaves in no bundle."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from msgspec import Struct

from engine.core.errors import EngineError
from engine.core.events import RunStarted, read_payload
from engine.ledger import EventRow, RunInfo
from engine.ledger.inbox import TriggerRow
from engine.model.playbook import Playbook, SecretSpec
from engine.modes.bundle.record import RecordedRun
from engine.playbook.loader import load_playbook
from engine.run.context.secrets import read_secrets
from engine.templating.redaction import Redactor

REDACTED_MARK = "«redacted:"  # how the ledger keeps an input that held a secret
# What the bundle promises about a secret whose value the exporter could not read.
LEDGER_GUARANTEE = (
    "every run redacts its secrets (all their forms: quoted, escaped, base64, URL-encoded,"
    " hex) before the ledger records an event, inputs or a summary, so the ledger never held"
    " them; the notification body of an alert is kept as it arrived and is scrubbed here"
    " only of the secrets the exporter could read"
)


class SecretNote(Struct, frozen=True):
    """One declared secret as the manifest tells it: where runs read it, and whether the
    exporter read it too and scrubbed every member of the bundle of it."""

    name: str
    source: str
    rescanned: bool
    problem: str = ""


def export_redactor(
    runs: Sequence[RecordedRun], environ: Mapping[str, str] | None = None
) -> tuple[Redactor, list[SecretNote]]:
    """A redactor of every secret the runs' recorded playbooks declare that can be read
    now and of each input value a run's alert gave that the ledger kept redacted, and a
    note on each declared secret."""
    environ = os.environ if environ is None else environ
    values: dict[str, str] = {}
    notes: dict[tuple[str, str], SecretNote] = {}
    for run in runs:
        for name, held in held_secrets(run.info.inputs, run.trigger).items():
            if held not in values.values():
                values[_free_name(name, values)] = held
        specs, base_dir = _declared(run)
        found, statuses = read_secrets(specs, base_dir, environ)
        for status in statuses:
            value = found.get(status.name)
            if value is not None and value not in values.values():
                values[_free_name(status.name, values)] = value
            if not notes.get((status.name, status.source), _UNREAD).rescanned:
                note = SecretNote(status.name, status.source, value is not None, status.problem)
                notes[(status.name, status.source)] = note
    return Redactor(values), [notes[key] for key in sorted(notes)]


def held_secrets(inputs: Mapping[str, Any], trigger: TriggerRow | None) -> dict[str, str]:
    """The value, as the alert's decision gave it, of each input the ledger kept
    redacted (`inputs`, as recorded): the alert's body, kept as it arrived, holds it
    where a label gave it, even when the secret itself cannot be read here."""
    given = trigger.inputs if trigger is not None else {}
    return {
        name: str(given[name])
        for name, value in inputs.items()
        if REDACTED_MARK in json.dumps(value, ensure_ascii=False) and given.get(name)
    }


def record_redactor(
    info: RunInfo,
    trigger: TriggerRow | None,
    events: Sequence[EventRow],
    environ: Mapping[str, str] | None = None,
) -> Redactor:
    """A redactor of the secrets the record of a run may hold where it keeps a text as it
    arrived (an alert's body): each input value the ledger kept redacted, and each secret
    the playbook text the run recorded declares that can be read here."""
    environ = os.environ if environ is None else environ
    playbook = recorded_playbook(info.file, events)
    specs = playbook.secrets if playbook is not None else {}
    found, _ = read_secrets(specs, Path(info.file).parent, environ)
    declared = {name: value for name, value in found.items() if value}
    return Redactor({**declared, **held_secrets(info.inputs, trigger)})


def recorded_playbook(file: str, events: Sequence[EventRow]) -> Playbook | None:
    """The playbook as the run recorded its text when it started (None when it recorded
    none or that text no longer loads)."""
    started = next((e for e in events if e.kind == RunStarted.kind), None)
    payload = read_payload(started.kind, started.data) if started is not None else None
    if not isinstance(payload, RunStarted):
        return None
    try:
        return load_playbook(file, text=payload.source)
    except EngineError:
        return None


_UNREAD = SecretNote("", "", rescanned=False)


def _free_name(name: str, taken: Mapping[str, str]) -> str:
    """`name`, or `name#2`, `name#3`… when runs declared it with other values."""
    number = 1
    free = name
    while free in taken:
        number += 1
        free = f"{name}#{number}"
    return free


def _declared(run: RecordedRun) -> tuple[Mapping[str, SecretSpec], Path]:
    """The secrets the run's playbook declares, and the folder its files are read from."""
    return (run.playbook.secrets if run.playbook else {}), Path(run.info.file).parent
