"""The level written into a playbook's text: only the number changes, however the author
wrote it, and the file still says the same playbook at the new level."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.playbook.loader import check_file
from engine.playbook.maturity_edit import with_maturity

PLAYBOOK = (Path(__file__).parent.parent / "playbooks" / "valid" / "minimal.yaml").read_text()


@pytest.mark.parametrize(
    ("written", "rewritten"),
    [
        ("maturity: 1", "maturity: 2"),
        ("maturity: !!int 1", "maturity: !!int 2"),
        ("maturity: &level 1", "maturity: &level 2"),
        ("maturity: !!int &level 1  # earned", "maturity: !!int &level 2  # earned"),
        ("maturity: 0x1", "maturity: 2"),
        ("maturity: 1 # earned", "maturity: 2 # earned"),
    ],
)
def test_only_the_number_changes(written: str, rewritten: str) -> None:
    text = PLAYBOOK.replace("maturity: 1", written, 1)
    before = check_file("p.yaml", text).playbook
    assert before is not None and before.metadata.maturity == 1

    edited = with_maturity(text, "p.yaml", 2)

    assert edited == text.replace(written, rewritten, 1)
    after = check_file("p.yaml", edited)
    assert after.playbook is not None and not after.errors, after.findings
    assert after.playbook.metadata.maturity == 2
    assert after.playbook.evidence_hash == before.evidence_hash


def test_a_file_the_loader_validates_is_edited_where_it_reads_the_level() -> None:
    # a tab before a comment is YAML the loader reads; the round-trip reader refused it
    text = PLAYBOOK.replace("owner: sre", "owner: sre\t# the on-call team", 1)
    assert not check_file("p.yaml", text).errors

    edited = with_maturity(text, "p.yaml", 2)

    assert edited == text.replace("maturity: 1", "maturity: 2", 1)
