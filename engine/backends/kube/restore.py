"""`restore`: apply an export (engine.backends.kube.archive) in dependency order, then verify.

1. The export is verified against its MANIFEST before any API call (the step does it
   before it connects): a missing MANIFEST or a changed file refuses the restore.
2. Every object is read; each is to be created, already as exported (every exported
   field has the exported value: skipped), or to be updated. A namespace still being
   deleted, an object being deleted, or an existing Secret that differs refuse the
   restore before anything changes (updating a Secret would put its old data into the
   undo state, i.e. the ledger).
3. In order: Namespaces; ServiceAccounts, ConfigMaps, Secrets, Roles; PVCs; Services;
   workloads; then what refers to them. Created with POST; updated with a server-side
   apply of the exported fields (a 409 is re-read and re-applied). A create that finds
   the object made meanwhile (a controller's `default` ServiceAccount) re-decides.
4. Every object is read again and must hold the exported fields.

The undo state records what it created (with UIDs: the undo deletes only those very
objects) and, before each update, the parts of the object it changes; the undo puts
them back. Server-side dry-run (`runbook plan`): creates and updates are sent with
dryRun=All, objects in a namespace that does not exist yet are counted, not sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from msgspec import Struct

from engine.backends.kube import archive, fields, kinds
from engine.backends.kube.apply import comparable, delete_created, server_side_apply
from engine.backends.kube.client import KubeError, on_conflict
from engine.backends.kube.ops import FIELD_MANAGER, ActionError, Done, Op, Preview, kind_of, undo_op
from engine.core.results import Verdict

CREATE, UPDATE, SAME = "create", "update", "unchanged"


def verified(body: Mapping[str, Any], base_dir: Path) -> archive.Archive:
    """The export `from` names (its newest complete one with `latest`), verified against
    its MANIFEST, narrowed to `namespaces`. No API call."""
    if not body.get("from"):
        raise ActionError("restore needs `from`: the directory of an export")
    source = archive.resolve_dir(body["from"], base_dir)
    if body.get("latest"):
        source = archive.latest(source)
    namespaces = body.get("namespaces")
    if isinstance(namespaces, str):
        namespaces = namespaces.split()
    return archive.verify(source).only(namespaces or None)


def verify_only(body: Mapping[str, Any], base_dir: Path) -> Done:
    """`verify_only: true`: the checks of step 1 and nothing else (no cluster needed)."""
    found = verified(body, base_dir)
    summary = found.summary()
    message = (
        f"export {found.root} verified: {summary['objects']} objects of "
        f"{', '.join(found.namespaces)}, taken {summary['taken_at']} from context "
        f"{summary['context']}"
    )
    return Done(message, {}, summary, False, _counts(found))


class Item(Struct):
    """One object of the export and what the restore does with it."""

    entry: archive.Entry
    kind: kinds.Kind
    op: Op
    action: str = CREATE
    current: dict[str, Any] | None = None

    def describe(self) -> str:
        return self.entry.describe()


def apply(action: str, op: Op) -> Done:
    """Create or update every object, then check each one against the export."""
    found = verified(op.body, op.base_dir)
    items = plan(op, found)
    op.captured.update(restored_from=str(found.root), created=[], updated=[])
    for item in items:
        if item.action == CREATE:
            _create(item)
        if item.action == UPDATE:
            _update(item)
    wrong = [item.describe() for item in items if not _matches(item)]
    if wrong:
        raise ActionError(
            f"after the restore, {len(wrong)} object(s) do not hold what the export has: "
            + ", ".join(wrong[:10])
        )
    counts = {name: sum(1 for i in items if i.action == name) for name in (CREATE, UPDATE, SAME)}
    lines = [f"{'created' if i.action == CREATE else i.action} {i.describe()}" for i in items]
    source = found.manifest
    message = (
        f"restored {found.root} (from context {source.get('context')}): created "
        f"{counts[CREATE]}, updated {counts[UPDATE]}, {counts[SAME]} already as exported; "
        f"all {len(items)} verified"
    )
    value = {"dir": str(found.root), "objects": len(items), **counts}
    changed = bool(counts[CREATE] or counts[UPDATE])
    return Done(message, op.captured, value, changed, "\n".join(lines))


def undo(action: str, op: Op, captured: Mapping[str, Any]) -> Done:
    """Put back what the restore updated, delete what it created (newest first)."""
    done = []
    for record in reversed(captured.get("updated") or []):
        target = undo_op(op, record)
        kind = kind_of(target, record)
        if fields.restore(target, kind, target.name, record["fields"]):
            done.append(f"restored {target.target(kind)}")
    for record in reversed(captured.get("created") or []):
        target = undo_op(op, record)
        gone = delete_created(target, kind_of(target, record), str(record.get("uid") or ""))
        done.append(gone.message)
    summary = f"undid the restore of {captured.get('restored_from')}: {len(done)} object(s)"
    return Done(summary, {}, None, bool(done), "\n".join(done))


def preview(action: str, op: Op) -> Preview:
    """Server-side dry-run of every create and update."""
    found = verified(op.body, op.base_dir)
    items = plan(op, found)
    new_namespaces = {i.entry.name for i in items if i.entry.kind == "Namespace" and not i.current}
    counts = {CREATE: 0, UPDATE: 0, SAME: 0}
    for item in items:
        if item.action == CREATE:
            if item.entry.kind == "Namespace" or item.entry.namespace not in new_namespaces:
                item.op.write("POST", item.kind, item.entry.name, item.entry.obj, verb="create")
        elif item.action == UPDATE:
            assert item.current is not None
            result = server_side_apply(item.op, item.kind, item.entry.obj, _rv(item.current))
            if comparable(result) == comparable(item.current):
                item.action = SAME
        counts[item.action] += 1
    note = (
        f"{found.root}: would create {counts[CREATE]}, update {counts[UPDATE]}; "
        f"{counts[SAME]} already as exported"
    )
    verdict = Verdict.WOULD_CHANGE if counts[CREATE] or counts[UPDATE] else Verdict.NO_OP
    return Preview(verdict, note)


def plan(op: Op, found: archive.Archive) -> list[Item]:
    """Read every object and decide; refuse before any change when it cannot be done."""
    items = []
    resolved: dict[tuple[str, str], kinds.Kind] = {}
    for entry in found.entries:
        key = (entry.kind, entry.api_version)
        if key not in resolved:
            resolved[key] = kind_for(op, entry)
        kind = resolved[key]
        body = {"namespace": entry.namespace if kind.namespaced else None, "name": entry.name}
        item = Item(entry, kind, Op(op.client, body, op.deadline, op.base_dir, op.captured,
                                    op.dry_run))  # fmt: skip
        _decide(item, _read(item))
        items.append(item)
    return items


def kind_for(op: Op, entry: archive.Entry) -> kinds.Kind:
    """The exported object's kind at the exported apiVersion (its path must match)."""
    known = kinds.known(entry.kind)
    group, _, version = entry.api_version.rpartition("/")
    if known is not None and known.group == group:
        return kinds.Kind(known.kind, group, version, known.plural, known.namespaced)
    return kinds.resolve(op.client, entry.kind, op.deadline, entry.api_version)


def _decide(item: Item, current: dict[str, Any] | None) -> None:
    item.current = current
    if current is None:
        item.action = CREATE
        return
    if current.get("metadata", {}).get("deletionTimestamp"):
        hint = "wait until it is gone" if item.entry.kind == "Namespace" else "try again later"
        raise ActionError(f"{item.describe()} is being deleted; {hint}, then restore")
    if contains(current, item.entry.obj):
        item.action = SAME
    elif item.entry.kind == "Secret":
        raise ActionError(
            f"{item.describe()} exists and differs from the export; restore does not "
            "overwrite a Secret (its undo would keep the old one in the ledger): delete it "
            "first, or leave its namespace out with `namespaces:`"
        )
    else:
        item.action = UPDATE


def _read(item: Item) -> dict[str, Any] | None:
    try:
        return item.op.read(item.kind, item.entry.name)
    except KubeError as exc:
        if exc.status == 404:
            return None
        raise


def _create(item: Item) -> None:
    query = {"fieldManager": FIELD_MANAGER}
    try:
        created = item.op.write(
            "POST", item.kind, item.entry.name, item.entry.obj, verb="create", query=query
        )
    except KubeError as exc:
        if exc.status != 409:
            raise
        _decide(item, _read(item))  # made meanwhile: decide again
        if item.action == UPDATE:
            _update(item)
        return
    record = item.op.identity(item.kind, item.entry.name)
    record["uid"] = created.get("metadata", {}).get("uid")
    item.op.captured["created"].append(record)


def _update(item: Item) -> None:
    updated: list[dict[str, Any]] = item.op.captured["updated"]
    record = item.op.identity(item.kind, item.entry.name)

    def attempt() -> dict[str, Any]:
        current = item.op.read(item.kind, item.entry.name)
        record["fields"] = fields.snapshot(current, fields.all_parts(current))  # before
        if not any(r is record for r in updated):
            updated.append(record)
        return server_side_apply(item.op, item.kind, item.entry.obj, _rv(current))

    on_conflict(attempt)


def _matches(item: Item) -> bool:
    return contains(_read(item), item.entry.obj)


def contains(live: Any, wanted: Any) -> bool:
    """Whether `live` holds every field of `wanted` with its value (an absent field
    counts as null or empty); lists element by element."""
    if isinstance(wanted, dict):
        if not isinstance(live, dict):
            return live is None and not any(wanted.values())
        return all(
            contains(live[key], value) if key in live else value in (None, {}, [], "")
            for key, value in wanted.items()
        )
    if isinstance(wanted, list):
        if not isinstance(live, list) or len(live) != len(wanted):
            return live is None and not wanted
        return all(contains(a, b) for a, b in zip(live, wanted, strict=True))
    return bool(live == wanted)


def _rv(obj: Mapping[str, Any]) -> str:
    return str(obj.get("metadata", {}).get("resourceVersion", ""))


def _counts(found: archive.Archive) -> str:
    counts = found.summary()["counts"]
    return "\n".join(f"{kind}: {count}" for kind, count in sorted(counts.items()))
