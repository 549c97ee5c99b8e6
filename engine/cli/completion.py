"""What the shell completes for an argument: run and incident ids from the ledger,
playbook files.

Click calls these when the shell asks (`_RUNBOOK_COMPLETE=bash_complete`); they run at
every Tab, so they read little: one bounded ledger query, one folder listing.
"""

from __future__ import annotations

import itertools
import os

import click
from click.shell_completion import CompletionItem

# How many run ids a Tab offers, newest first: the runs an on-call engineer looks for.
RUN_IDS_OFFERED = 20
PLAYBOOK_SUFFIXES = (".yaml", ".yml")
# Entries read from one folder: a Tab in a huge folder answers from part of it.
ENTRIES_READ = 1000
# Folders descended into while the only match is one folder (`play` → `playbooks/demo/`).
DESCENT_LIMIT = 8


def complete_run_ids(
    _ctx: click.Context, _param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """The newest runs whose id starts with what was typed, from the ledger."""
    from engine.ledger.recent import recent_runs

    return [
        CompletionItem(run.run_id, help=run.description)
        for run in recent_runs(incomplete, RUN_IDS_OFFERED)
    ]


def complete_incident_ids(
    _ctx: click.Context, _param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """The newest incidents whose id starts with what was typed, from the ledger."""
    from engine.ledger.recent import recent_incidents

    return [
        CompletionItem(found.run_id, help=found.description)
        for found in recent_incidents(incomplete, RUN_IDS_OFFERED)
    ]


def complete_run_or_incident_ids(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """Run ids, then incident ids (`runbook postmortem`, `runbook regress`)."""
    runs = complete_run_ids(ctx, param, incomplete)
    return runs + complete_incident_ids(ctx, param, incomplete)


def complete_playbooks(
    _ctx: click.Context, _param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """Playbook files (.yaml, .yml) and the folders that may hold them."""
    return [CompletionItem(path) for path in playbook_paths(incomplete)]


def complete_playbook_or_run(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """`runbook show`'s target: a path once it looks like one, else run ids, then files."""
    files = complete_playbooks(ctx, param, incomplete)
    if _looks_like_a_path(incomplete):
        return files
    return complete_run_or_incident_ids(ctx, param, incomplete) + files


def playbook_paths(incomplete: str) -> list[str]:
    """The playbook files and folders that complete `incomplete`, sorted; a folder ends
    with "/". While the only match is a folder, its contents are offered instead, so that
    the shell does not end the word after the folder's name."""
    found = _entries(incomplete)
    for _ in range(DESCENT_LIMIT):
        if len(found) != 1 or not found[0].endswith("/"):
            break
        inside = _entries(found[0])
        if not inside:
            break
        found = inside
    return found


def _entries(incomplete: str) -> list[str]:
    folder, start = os.path.split(incomplete)
    try:
        with os.scandir(os.path.expanduser(folder) or ".") as listing:
            entries = list(itertools.islice(listing, ENTRIES_READ))
    except OSError:
        return []
    found = []
    for entry in entries:
        if not entry.name.startswith(start) or _hidden(entry.name, start):
            continue
        path = os.path.join(folder, entry.name)
        if _is_folder(entry):
            found.append(path + "/")
        elif entry.name.endswith(PLAYBOOK_SUFFIXES):
            found.append(path)
    return sorted(found)


def _hidden(name: str, start: str) -> bool:
    """A dot file or folder is offered only when the user typed the dot."""
    return name.startswith(".") and not start.startswith(".")


def _is_folder(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def _looks_like_a_path(incomplete: str) -> bool:
    return (
        "/" in incomplete
        or incomplete.startswith((".", "~"))
        or incomplete.endswith(PLAYBOOK_SUFFIXES)
    )
