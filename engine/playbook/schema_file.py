"""Where the published JSON Schema of the playbook format is: in the wheel, or in a
source checkout."""

from __future__ import annotations

from pathlib import Path

SCHEMA_FILE = "playbook.v1.json"


def schema_path() -> Path:
    """The schema shipped in the wheel, or the one in a source checkout."""
    packaged = Path(__file__).resolve().parent.parent / "_data" / SCHEMA_FILE
    if packaged.is_file():
        return packaged
    return Path(__file__).resolve().parents[2] / "schema" / SCHEMA_FILE


def schema_text() -> str:
    return schema_path().read_text(encoding="utf-8")
