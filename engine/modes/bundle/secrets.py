"""The secrets an export scrubs again: those the recorded playbooks declare, read from
where a run reads them (the environment, a file beside the playbook) when the exporter
can, so that a value the ledger holds unredacted (an alert's body, kept as it arrived)
leaves in no bundle."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from msgspec import Struct

from engine.model.playbook import SecretSpec
from engine.modes.bundle.record import RecordedRun
from engine.run.context.secrets import GivenInputs, declared_scrubber, held_secrets
from engine.templating.redaction import Redactor

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
    held = held_secrets(_given(run) for run in runs)
    redactor, statuses = declared_scrubber([_declared(run) for run in runs], environ, held)
    notes: dict[tuple[str, str], SecretNote] = {}
    for status in statuses:
        if not notes.get((status.name, status.source), _UNREAD).rescanned:
            read = not status.problem
            notes[(status.name, status.source)] = SecretNote(
                status.name, status.source, read, status.problem
            )
    return redactor, [notes[key] for key in sorted(notes)]


_UNREAD = SecretNote("", "", rescanned=False)


def _given(run: RecordedRun) -> GivenInputs:
    """The run's inputs as recorded, and as its alert's decision gave them."""
    return run.info.inputs, (run.trigger.inputs if run.trigger is not None else {})


def _declared(run: RecordedRun) -> tuple[Mapping[str, SecretSpec], Path]:
    """The secrets the run's playbook declares, and the folder its files are read from."""
    return (run.playbook.secrets if run.playbook else {}), Path(run.info.file).parent
