"""Whether a YAML file is a playbook at all, before asking whether it is a good one.

A playbook declares itself with `apiVersion: runbook/v1` and `kind: Playbook`. A file
with either is a playbook (one of the two wrong is a mistake to report); a file with
neither is something else kept beside the playbooks: an inventory, a Kubernetes
manifest, a docker-compose file, an Ansible playbook.
"""

from __future__ import annotations

import re
from typing import Any

from engine.core.findings import Finding, Location

NOT_A_PLAYBOOK_SAYS = "not a playbook: "  # how the error for a named file begins
NOT_A_PLAYBOOK = "not a playbook (no apiVersion: runbook/v1, kind: Playbook)"
API_VERSION = "runbook/v1"
KIND = "Playbook"
# How much of a file's top the text check reads: the header comes first.
SNIFF_CHARS = 64 * 1024

_HEADER = re.compile(
    r"""^[ \t]*(?:-[ \t]+)?["']?(?:apiVersion|kind)["']?[ \t]*:"""
    r"""[ \t]*["']?(?:runbook/|Playbook\b)""",
    re.M,
)
_BLOCK_KEY = re.compile(r"""^(?:[A-Za-z_][\w.-]*|"[^"\n]*"|'[^'\n]*')[ \t]*:(?:[ \t]|\Z)""")
_BLOCK_ITEM = re.compile(r"^-(?:[ \t]|\Z)")


def declares_playbook(data: Any) -> bool:
    """Whether read YAML data names itself a playbook by either header key."""
    if not isinstance(data, dict):
        return False
    version, kind = data.get("apiVersion"), data.get("kind")
    return (isinstance(version, str) and version.startswith("runbook/")) or kind == KIND


def not_a_playbook_finding(file: str, data: Any) -> Finding:
    """The one error for a file named as a playbook that declares itself as none."""
    message = f"{NOT_A_PLAYBOOK_SAYS}{_header_of(data)}"
    hint = (
        "a playbook starts with `apiVersion: runbook/v1` and `kind: Playbook`; "
        "`runbook validate DIR` skips other YAML (an inventory, a manifest) kept beside it"
    )
    return Finding(Location(file, 1, 1), "", message, hint)


def _header_of(data: Any) -> str:
    """What the file says it is, in the words of the two header keys."""
    said = [f"{key}: {data[key]!r}" for key in ("apiVersion", "kind") if key in data]
    return f"it has {', '.join(said)}" if said else "it has no apiVersion and no kind"


def clearly_not_a_playbook(text: str) -> bool:
    """Whether text, valid YAML or not, is plainly something other than a playbook: its
    top is a block mapping (or list) and no line declares the playbook header.

    Anything less clear (a flow mapping, a scalar, an empty file, text that does not
    start like YAML) is left to the full check, which reports what is wrong with it.
    """
    top = text[:SNIFF_CHARS].lstrip("\ufeff")
    if _HEADER.search(top):
        return False
    first = _first_content_line(top)
    return first is not None and bool(_BLOCK_KEY.match(first) or _BLOCK_ITEM.match(first))


def _first_content_line(text: str) -> str | None:
    """The first line that is not blank, a comment, a directive or a document marker."""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or line.startswith("%"):
            continue
        if stripped in ("---", "..."):
            continue
        return line
    return None
