"""`runbook promote` and `runbook demote`: one level at a time, the new level written
into the file (only that value) and the sign-off recorded in the ledger.

Order: the new text is checked (it must still validate and keep the evidence hash) and
written to a temporary file beside the playbook; the sign-off is committed to the
ledger; then the temporary file replaces the playbook (a rename). A ledger that cannot
record leaves the file as it was."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from msgspec import Struct

from engine.core.errors import InvalidPlaybook, RefusedError, UsageError
from engine.ledger import LEDGER_FILE, Ledger, default_home
from engine.model.playbook import Playbook
from engine.modes.maturity.board import Standing, standing
from engine.modes.maturity.policy import Policy
from engine.modes.maturity.verdict import PROMOTE, Verdict
from engine.playbook.loader import check_file
from engine.playbook.maturity_edit import with_maturity


class SignOff(Struct, frozen=True):
    """What a promotion or demotion asks for."""

    file: str
    to_level: int
    operator: str
    home: Path | None = None
    reason: str = ""


class Done(Struct, frozen=True):
    """A recorded sign-off (None when nothing was changed) and the standing before it."""

    change_id: str | None
    before: Standing


def load_valid(file: str) -> Playbook:
    """The playbook of `file`, or InvalidPlaybook (exit 2)."""
    report = check_file(file)
    if report.playbook is None or report.errors:
        raise InvalidPlaybook(list(report.errors) or list(report.findings))
    return report.playbook


def assess(file: str, policy: Policy, home: Path | None) -> Standing:
    """Where the playbook of `file` stands now."""
    playbook = load_valid(file)
    with _ledger(home) as ledger:
        return standing(playbook, ledger, policy)


def check_promotion(before: Standing, to_level: int) -> None:
    """One level up from the effective level; UsageError otherwise."""
    if to_level <= before.effective:
        raise UsageError(
            f"{before.playbook} is at level {before.effective}: --to {to_level} is no promotion",
            f"to lower the level: runbook demote {before.file} --to {to_level} --reason TEXT",
        )
    if to_level != before.effective + 1:
        raise UsageError(
            f"a promotion goes one level at a time: {before.effective} to"
            f" {before.effective + 1}, not {to_level}",
            f"promote to {before.effective + 1} first, with its own evidence",
        )


def promote(
    request: SignOff, before: Standing, confirm: Callable[[], bool], policy: Policy
) -> Done:
    """Write and record a promotion whose verdict is `promote`, once `confirm` says so and
    the verdict still holds on what the ledger holds then."""
    _promotable(before, request.to_level)
    if not confirm():
        raise RefusedError("not promoted: the operator said no")
    now = assess(request.file, policy, request.home)
    if (now.evidence_hash, now.effective) != (before.evidence_hash, before.effective):
        raise RefusedError(
            f"not promoted: {now.playbook} changed while the promotion was asked (now level"
            f" {now.effective}, evidence hash {now.evidence_hash[:12]})",
            f"see where it stands: runbook promote {request.file} --to {request.to_level}"
            " --explain",
        )
    verdict = _promotable(now, request.to_level)
    evidence = sorted({row for rule in verdict.rules for row in rule.rows})
    record = _record(request, now, "promote", evidence, verdict.verdict)
    return Done(_apply(request, now, record), before)


def _promotable(found: Standing, to_level: int) -> Verdict:
    """The verdict of promoting `found` to `to_level`; RefusedError unless it is promote."""
    check_promotion(found, to_level)
    verdict = found.next
    if verdict is None or verdict.verdict != PROMOTE:
        said = verdict.verdict if verdict else "none"
        raise RefusedError(
            f"not promoted: the verdict is {said}",
            f"see why: runbook promote {found.file} --to {to_level} --explain",
        )
    return verdict


def demote(request: SignOff, before: Standing) -> Done:
    """Write and record a demotion to a lower level, with its reason."""
    if not 1 <= request.to_level < before.declared:
        raise UsageError(
            f"{before.playbook} declares level {before.declared}: --to {request.to_level} is"
            " no demotion",
            f"give a level from 1 to {before.declared - 1}"
            if before.declared > 1
            else "level 1 is the lowest",
        )
    if not request.reason.strip():
        raise UsageError("a demotion needs a reason", "add --reason TEXT")
    record = _record(request, before, "demote", [], "")
    return Done(_apply(request, before, record), before)


def _record(
    request: SignOff, before: Standing, action: str, evidence: list[str], verdict: str
) -> dict[str, object]:
    return {
        "playbook": before.playbook,
        "version": before.version,
        "evidence_hash": before.evidence_hash,
        "file": str(Path(request.file).resolve()),
        "action": action,
        "from_level": before.declared,
        "to_level": request.to_level,
        "operator": request.operator,
        "reason": request.reason,
        "evidence": evidence,
        "verdict": verdict,
    }


def _apply(request: SignOff, before: Standing, record: dict[str, object]) -> str:
    """Check the new text, stage it, record the sign-off, then put the text in place."""
    path = Path(request.file).resolve()  # a symlink stays one: its target is rewritten
    old = path.read_bytes().decode("utf-8")  # as written: CRLF line ends stay
    new = with_maturity(old, request.file, request.to_level)
    _check_new_text(request.file, new, before, request.to_level)
    staged = _stage(path, new)
    try:
        with _ledger(request.home) as ledger:
            change_id = ledger.add_maturity_change(dict(record))
        os.replace(staged, path)
    finally:
        staged.unlink(missing_ok=True)
    return change_id


def _check_new_text(file: str, text: str, before: Standing, level: int) -> None:
    """The new text must validate, say `level`, and differ in nothing else."""
    report = check_file(file, text)
    if report.playbook is None or report.errors:
        raise InvalidPlaybook(list(report.errors) or list(report.findings))
    written = report.playbook
    if written.evidence_hash != before.evidence_hash or written.metadata.maturity != level:
        raise UsageError(
            f"{file}: the level cannot be written as `maturity: {level}` alone (the file"
            " changed meanwhile, or its maturity is not a plain number)",
            "write `maturity:` as a plain number, then run the command again",
        )


def _stage(path: Path, text: str) -> Path:
    """`text` in a new file beside `path`, with its mode, synced to disk."""
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    staged = Path(name)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(staged, path.stat().st_mode & 0o7777)
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
    return staged


def _ledger(home: Path | None) -> Ledger:
    return Ledger.open((home or default_home()) / LEDGER_FILE)
