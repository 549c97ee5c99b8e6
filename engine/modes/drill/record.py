"""A drill's own record in the ledger: a run row (mode `drill`, id `d…`) that the
drill's runs name as their parent, and a drill row with its verdict, timings and report.

Every drill the operator asked for is kept, also one refused before its playbook could
be checked (a file that is not valid YAML, a schema error, no `drill:` section, inputs
that do not fit): it is recorded with what could be read of the file (its name and
version, else the file itself as its key) and the reason, so that `runbook drills`
lists it and `runbook show DRILL_ID` tells why. A usage error on the command line is no
drill and is not recorded.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from msgspec import Struct

from engine import __version__
from engine.core.errors import EngineError
from engine.ledger import DrillEnd, Ledger, RunInfo, host_name, new_drill_id
from engine.model.yamlsource import load_source
from engine.modes.drill.verdict import OUTCOMES, DrillRefused, DrillReport
from engine.modes.run import open_ledger
from engine.playbook.build import content_hash
from engine.run.preflight import RunRequest
from engine.ui.operator import operator_name


class Identity(Struct, frozen=True):
    """What the drill's record is keyed by: the playbook's name, version and content hash."""

    name: str
    version: str
    content_hash: str
    evidence_hash: str | None = None  # None: a drill refused before its playbook was checked
    maturity: int | None = None


def start_record(
    ledger: Ledger, report: DrillReport, identity: Identity, inputs: Mapping[str, Any]
) -> None:
    """Record the drill as `running` (`report.drill_id` from `new_drill_id`)."""
    assert report.drill_id is not None
    info = RunInfo(
        run_id=report.drill_id,
        playbook=identity.name,
        version=identity.version,
        content_hash=identity.content_hash,
        file=str(Path(report.file).resolve()),
        mode="drill",
        inputs=dict(inputs),
        operator=operator_name(),
        host=host_name(),
        engine_version=__version__,
        started_at=report.started_at,
        evidence_hash=identity.evidence_hash,
        maturity=identity.maturity,
    )
    ledger.start_drill(info)


def finish_record(ledger: Ledger, report: DrillReport) -> None:
    """Record how the drill went: verdict, timings, its runs and the report itself."""
    assert report.drill_id is not None
    runs = {part.name: part.run_id for part in report.parts}
    end = DrillEnd(
        verdict=report.verdict,
        detected_after=report.detected_after,
        recovered_after=report.recovered_after,
        inject_run=runs.get("inject"),
        remediate_run=runs.get("remediate"),
        revert_run=runs.get("revert"),
        report=report.as_dict(),
    )
    ledger.finish_drill(report.drill_id, OUTCOMES[report.verdict], end)


def refused_before_check(request: RunRequest, refusal: EngineError) -> DrillRefused:
    """The refusal of a drill whose playbook did not pass its checks (or whose inputs did
    not fit), with its report, kept in the ledger as a refused drill."""
    known = read_identity(request.file)
    report = DrillReport(
        known.name or None,
        known.version or None,
        request.file,
        time.time(),
        None,
        None,
        drill_id=new_drill_id(),
    )
    refused = DrillRefused(report, refusal, request.redactions)
    given = {name: request.redactions(value) for name, value in request.inputs.items()}
    file = str(Path(request.file).resolve())
    key = known if known.name else Identity(file, known.version, known.content_hash)
    with contextlib.ExitStack() as stack:
        try:
            ledger = open_record(stack, request, report, key, given)
        except EngineError as problem:
            refused.add_reason(problem, request.redactions)
            return refused
        finish_record(ledger, report)
    return refused


def open_record(
    stack: contextlib.ExitStack[Any],
    request: RunRequest,
    report: DrillReport,
    identity: Identity,
    inputs: Mapping[str, Any],
) -> Ledger:
    """The request's ledger, open until `stack` closes, with the drill recorded in it as
    `running`; when that cannot be (a ledger that is not the user's alone, a full disk)
    the drill is not recorded (`drill_id` None) and the error is raised."""
    try:
        ledger = stack.enter_context(open_ledger(request))
        start_record(ledger, report, identity, inputs)
    except EngineError:
        report.drill_id = None
        raise
    return ledger


def read_identity(file: str) -> Identity:
    """The name, version and content hash `file` declares, as far as its YAML can be read
    ("" for what cannot): the record of a drill refused before its playbook was checked."""
    try:
        source = load_source(file)
    except EngineError:  # not YAML, not readable, too large: the file is all we know
        return Identity("", "", "")
    metadata = source.data.get("metadata")
    said = metadata if isinstance(metadata, dict) else {}
    return Identity(
        _scalar(said.get("name")), _scalar(said.get("version")), content_hash(source.data)
    )


def _scalar(value: object) -> str:
    """A name or version as written (`version: 1.2` reads as a number)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return ""
    return str(value)
