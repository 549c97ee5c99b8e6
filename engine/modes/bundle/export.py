"""`runbook export RUN_ID -o FILE.tar.gz`: a run's (or a drill's) record as one bundle:
`manifest.json`, `events.jsonl`, `sli.jsonl`, `playbook.yaml` and `SHA256SUMS`, every
member scrubbed of the secrets the exporter can read, written whole or not at all."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from msgspec import Struct

from engine.core.events import EventKind
from engine.core.output_file import check_output, write_output
from engine.ledger import LEDGER_FILE, DrillRow, Ledger, RunRow, default_home, is_drill_id
from engine.modes.bundle import manifest
from engine.modes.bundle.archive import FILE_MODE, checksums_text, sha256, write_archive
from engine.modes.bundle.record import RecordedRun, read_run, runs_made_by
from engine.modes.bundle.secrets import SecretNote, export_redactor
from engine.modes.incidents import incident_json
from engine.modes.run_record import incident_of
from engine.templating.redaction import Redactor

MANIFEST = "manifest.json"
EVENTS = "events.jsonl"
SLI = "sli.jsonl"
PLAYBOOK = "playbook.yaml"
CHECKSUMS = "SHA256SUMS"
PARTS = "runs"  # a drill's part runs: runs/<run id>/events.jsonl, …


class ExportRequest(Struct, frozen=True):
    run_id: str  # a run id or a drill id (or a unique prefix)
    output: str
    force: bool = False  # replace an existing file
    home: Path | None = None
    environ: Mapping[str, str] | None = None  # where secrets are read (default: os.environ)


class Exported(Struct, frozen=True):
    """The bundle written: its file, the run it holds, and each member's sha256."""

    path: str
    run_id: str
    members: dict[str, str]
    size: int


def export_bundle(request: ExportRequest) -> Exported:
    """Write the bundle of `request.run_id`; UsageError (exit 2) for an unknown run or a
    file that exists without `force`, nothing written."""
    target = Path(request.output)
    check_output(target, request.force)  # before the ledger is read
    with Ledger.open((request.home or default_home()) / LEDGER_FILE) as ledger:
        main = read_run(ledger, request.run_id)
        made = runs_made_by(ledger, main.info.run_id)
        drill = ledger.get_drill(main.info.run_id) if _is_drill(main) else None
        parts = [read_run(ledger, run_id) for run_id in _part_ids(drill, made)]
        incident = _incident_facts(ledger, main)
    redactor, notes = export_redactor([main, *parts], request.environ)
    made_facts = [_made(row) for row in made]
    members = _members(main, parts, redactor, notes, made_facts, drill, incident)
    data = write_archive(members)
    write_output(target, data, request.force, mode=FILE_MODE)
    sums = {name: sha256(body) for name, body in members.items() if name != CHECKSUMS}
    return Exported(str(target), main.info.run_id, sums, len(data))


# What the manifest says of the incident the run belongs to (`runbook show INCIDENT_ID
# --output json` has it all): its id, title, status, lifecycle times with their source.
INCIDENT_KEYS = (
    "incident_id",
    "title",
    "severity",
    "status",
    "opened_at",
    "times",
    "ttd_seconds",
    "ttm_seconds",
    "ttr_seconds",
    "runs",
)


def _incident_facts(ledger: Ledger, main: RecordedRun) -> dict[str, Any] | None:
    """The incident the run (the drill) belongs to, as its times stand now; None if none."""
    incident_id = incident_of(ledger, main.row)
    if incident_id is None:
        return None
    told = incident_json(ledger.incident(incident_id))
    return {key: told[key] for key in INCIDENT_KEYS}


def _is_drill(run: RecordedRun) -> bool:
    return run.info.mode == "drill" and is_drill_id(run.info.run_id)


def _part_ids(drill: DrillRow | None, made: Sequence[RunRow]) -> list[str]:
    """A drill's runs: those that name it as their parent, and its inject, remediate and
    revert runs (a revert made of the inject's undos names the inject run instead)."""
    if drill is None:
        return []
    named = (drill.inject_run, drill.remediate_run, drill.revert_run)
    ids = [row.run_id for row in made] + [run_id for run_id in named if run_id]
    return sorted(set(ids))


def _drill_facts(drill: DrillRow | None) -> dict[str, Any] | None:
    if drill is None:
        return None
    return {
        "drill_id": drill.drill_id,
        "verdict": drill.verdict,
        "detected_after": drill.detected_after,
        "recovered_after": drill.recovered_after,
        "inject_run": drill.inject_run,
        "remediate_run": drill.remediate_run,
        "revert_run": drill.revert_run,
    }


def _made(row: RunRow) -> dict[str, Any]:
    return {"run_id": row.run_id, "mode": row.mode, "outcome": row.status}


def _members(
    main: RecordedRun,
    parts: Sequence[RecordedRun],
    redactor: Redactor,
    notes: Sequence[SecretNote],
    made: Sequence[dict[str, Any]],
    drill: DrillRow | None = None,
    incident: dict[str, Any] | None = None,
) -> dict[str, bytes]:
    files = _run_files(main, "", redactor)
    for part in parts:
        files.update(_run_files(part, f"{PARTS}/{part.info.run_id}/", redactor))
    document = {
        "format": manifest.FORMAT,
        "format_version": manifest.FORMAT_VERSION,
        "kind": "drill" if drill is not None else "run",
        "run": manifest.run_facts(main, made),
        "recorded_by": manifest.recorder(main),
        "exported_by": manifest.exporter(),
        "tools": manifest.tools(main),
        "approvals": manifest.approvals(main),
        "guards": manifest.guards(main),
        "trigger": manifest.trigger_facts(main.trigger, main.payload),
        "secrets": manifest.secrets_facts(notes, [main, *parts]),
        "drill": _drill_facts(drill),
        "incident": incident,
        "parts": [_part_facts(part) for part in parts],
        "files": {name: sha256(body) for name, body in sorted(files.items())},
    }
    files[MANIFEST] = _scrubbed_json(document, redactor, indent=2).encode()
    files[CHECKSUMS] = checksums_text(files).encode()
    return files


def _part_facts(part: RecordedRun) -> dict[str, Any]:
    prefix = f"{PARTS}/{part.info.run_id}/"
    return {
        "run": manifest.run_facts(part, []),
        "tools": manifest.tools(part),
        "approvals": manifest.approvals(part),
        "guards": manifest.guards(part),
        "members": prefix,
    }


def _run_files(run: RecordedRun, prefix: str, redactor: Redactor) -> dict[str, bytes]:
    events = [
        {"seq": e.seq, "ts": e.ts, "kind": e.kind, "step_id": e.step_id, "data": e.data}
        for e in run.events
    ]
    samples = [
        {"seq": e.seq, "ts": e.ts, **e.data} for e in run.events if e.kind == EventKind.SLI_SAMPLE
    ]
    files = {
        f"{prefix}{EVENTS}": _json_lines(events, redactor),
        f"{prefix}{SLI}": _json_lines(samples, redactor),
    }
    if run.source:
        files[f"{prefix}{PLAYBOOK}"] = redactor.redact(run.source).encode()
    return files


def _json_lines(rows: Sequence[Mapping[str, Any]], redactor: Redactor) -> bytes:
    return "".join(_scrubbed_json(row, redactor) + "\n" for row in rows).encode()


def _scrubbed_json(data: Any, redactor: Redactor, indent: int | None = None) -> str:
    """`data` as JSON with every secret the redactor knows replaced: in the values, then
    in the text once more (a form only the JSON escaping makes)."""
    text = json.dumps(
        redactor.redact_data(data), indent=indent, sort_keys=indent is not None, default=str
    )
    return redactor.redact(text)
