"""`runbook regress ID -o CASE.yaml`: the case of a recorded run or drill, written."""

from __future__ import annotations

import os
from pathlib import Path

import msgspec.structs
from msgspec import Struct

from engine.ledger import LEDGER_FILE, Ledger, default_home
from engine.modes.regress.build import build_case
from engine.modes.regress.case import Case
from engine.modes.regress.write import write_case


class RegressRequest(Struct, frozen=True):
    record_id: str  # a run id or a drill id (or a unique prefix)
    output: str
    force: bool = False
    name: str | None = None
    home: Path | None = None
    within: float | None = None  # T of a case of a failed run whose playbook declares none


def make_case(request: RegressRequest) -> Case:
    """Build the case from the ledger and write it (UsageError, exit 2: not a run or
    drill a case is made of, or the file exists without `force`)."""
    with Ledger.open((request.home or default_home()) / LEDGER_FILE) as ledger:
        case = build_case(ledger, request.record_id, request.name, request.within)
    target = Path(request.output)
    case = with_playbook_relative_to(case, target)
    write_case(case, target, request.force)
    return case


def with_playbook_relative_to(case: Case, target: Path) -> Case:
    """The case with its playbook's path relative to the folder the case is written to:
    a case kept beside its playbooks in a repository finds them from any checkout."""
    folder = target.resolve().parent
    relative = os.path.relpath(Path(case.source.file).resolve(), folder)
    source = msgspec.structs.replace(case.source, file=relative)
    return msgspec.structs.replace(case, source=source)
