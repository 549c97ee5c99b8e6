"""The case file: every broken one in tests/playbooks/cases/invalid/ is refused at the
`file:line:col` its `# expect:` line names; a valid one reads, and what the writer
writes of it reads back the same."""

from __future__ import annotations

import re
from pathlib import Path

import msgspec.structs
import pytest
from tree import TESTS

from engine.core.errors import InvalidPlaybook
from engine.modes.regress.read import read_case
from engine.modes.regress.write import case_text

CASES = TESTS / "playbooks" / "cases"
INVALID = sorted((CASES / "invalid").glob("*.yaml"))
VALID = sorted((CASES / "valid").glob("*.yaml"))


def _expected(path: Path) -> tuple[int, int, str]:
    found = re.match(r"# expect: (\d+):(\d+): (.*)", path.read_text().splitlines()[0])
    assert found, f"{path.name}: its first line says where and what is wrong"
    return int(found[1]), int(found[2]), found[3]


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_an_invalid_case_is_refused_at_its_place(path: Path) -> None:
    line, col, message = _expected(path)

    with pytest.raises(InvalidPlaybook) as refused:
        read_case(str(path))

    placed = [(f.location.line, f.location.col, f.message) for f in refused.value.findings]
    assert any((at_line, at_col) == (line, col) and message in said
               for at_line, at_col, said in placed), placed  # fmt: skip
    assert all(f.location.file == str(path) for f in refused.value.findings)


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_a_valid_case_reads_and_what_is_written_of_it_reads_back_the_same(
    path: Path, tmp_path: Path
) -> None:
    read = read_case(str(path))
    copy = tmp_path / "copy.yaml"

    copy.write_text(case_text(read.case))

    assert read_case(str(copy)).case == read.case
    assert read.case.fault_context.alert.namespace()["labels"]["service"] == "api"


TRICKY = [
    "yes", "0755", "0o17", "1e3", "1_000", "null", "~", "a: b", "# not a comment",
    "two\nlines", "-rf", "", "«redacted:token»", "{{ x }}", "'q'", '"dq"', " pad ",
]  # fmt: skip


@pytest.mark.parametrize("value", TRICKY, ids=repr)
def test_a_label_or_input_of_any_text_reads_back_as_written(value: str, tmp_path: Path) -> None:
    case = read_case(str(VALID[0])).case
    alert = msgspec.structs.replace(case.fault_context.alert, labels={"odd": value})
    context = msgspec.structs.replace(case.fault_context, alert=alert, inputs={"odd": value})
    written = msgspec.structs.replace(case, fault_context=context)
    copy = tmp_path / "copy.yaml"

    copy.write_text(case_text(written))

    again = read_case(str(copy)).case.fault_context
    assert again.alert.labels == {"odd": value} and again.inputs == {"odd": value}
