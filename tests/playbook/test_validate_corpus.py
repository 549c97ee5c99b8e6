"""The corpus of broken playbooks (RELIABILITY.md, "Kinds of test").

Each file in `tests/playbooks/invalid/` is broken in one way, says how in its first
line, and lists the findings it must give in `# expect: L:C: path: message` lines.
`check_file` must report exactly those — line, column, path and message, in order,
nothing more — and every finding carries a hint. Cases too big to commit (a
50 MB file, deep nesting) are generated here. Every file in `tests/playbooks/valid/`
gives no finding at all, even with --strict.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import yaml
from tree import TESTS

from engine.core.errors import InvalidPlaybook
from engine.core.findings import Finding
from engine.model import yamlsource
from engine.playbook.loader import check_file, load_playbook

HERE = TESTS
INVALID = HERE / "playbooks" / "invalid"
VALID = HERE / "playbooks" / "valid"
MIB = 1024 * 1024

# A file that cannot hold a comment states its expectation here.
NO_HEADER = {"empty.yaml": ["1:1: the file is empty"]}
CORPUS = sorted(path.name for path in INVALID.glob("*.yaml"))


def expected(name: str) -> list[str]:
    """The file's `# expect: L:C: path: message` header lines, in order."""
    if name in NO_HEADER:
        return NO_HEADER[name]
    text = (INVALID / name).read_bytes().decode("utf-8", "replace")
    return [
        line.removeprefix("# expect: ")
        for line in text.splitlines()
        if line.startswith("# expect: ")
    ]


# Hints that carry the fix itself (every finding has some hint; these must say this).
HINTS = {
    "unknown-key-top.yaml": "did you mean 'inputs'?",
    "unknown-key-step.yaml": "did you mean 'timeout'?",
    "input-unknown-type.yaml": "did you mean 'integer'?",
    "undefined-input.yaml": "did you mean 'profile'?",
    "undefined-capture.yaml": "did you mean 'load'?",
    "duration-words.yaml": "use e.g. 500ms, 30s, 5m or 1h",
    "duration-bare-number.yaml": "add a unit, e.g. 10s or 10m",
    "yaml-tab-indentation.yaml": "YAML forbids tabs for indentation: replace the tab with spaces",
    "yaml-unclosed-quote.yaml": "close the quote that starts here",
    "wrong-type-readonly-string.yaml": "remove the quotes around true",
    "tag-python-object-apply.yaml": "only plain YAML data is allowed; remove the tag",
    "secret-on-command-line.yaml": "pass it in `env:` (e.g. TOKEN: '{{ secrets.token }}')"
    ' and use "$TOKEN" in the command',
    "capture-before-producer.yaml": "a step can only read earlier steps' captures;"
    " move it after 'look'",
    "input-bad-name.yaml": "use lower-case letters, digits and '_', e.g. 'node_name'",
    "duration-too-long.yaml": "write at most 9 digits before and after the point,"
    " in a larger unit if need be",
    "yaml-1-1-boolean.yaml": "write true or false for a yes/no value, or quote it ('yes') for text",
}


def summary(finding: Finding) -> str:
    where = f"{finding.path}: " if finding.path else ""
    return f"{finding.location.line}:{finding.location.col}: {where}{finding.message}"


def test_the_corpus_is_large_and_every_file_states_its_findings() -> None:
    assert len(CORPUS) >= 45
    for name in CORPUS:
        assert expected(name), f"{name} has no `# expect:` line"
    assert set(NO_HEADER) <= set(CORPUS)
    assert set(HINTS) <= set(CORPUS)


@pytest.mark.parametrize("name", CORPUS)
def test_invalid_playbook_gives_exactly_its_findings(name: str) -> None:
    path = str(INVALID / name)
    report = check_file(path)
    assert [summary(f) for f in report.findings] == expected(name)
    assert not report.ok()
    for finding in report.findings:
        assert finding.severity == "error"
        assert finding.hint, summary(finding)
        assert finding.location.file == path
        loc = finding.location
        assert finding.render().startswith(f"{path}:{loc.line}:{loc.col}: ")
    if name in HINTS:
        assert report.findings[0].hint == HINTS[name]


@pytest.mark.parametrize("name", CORPUS)
def test_load_playbook_raises_every_finding(name: str) -> None:
    with pytest.raises(InvalidPlaybook) as caught:
        load_playbook(str(INVALID / name))
    assert [summary(f) for f in caught.value.findings] == expected(name)


@pytest.mark.parametrize("name", sorted(path.name for path in VALID.glob("*.yaml")))
def test_valid_edge_cases_give_no_finding_even_strict(name: str) -> None:
    report = check_file(str(VALID / name))
    assert [f.render() for f in report.findings] == []
    assert load_playbook(str(VALID / name), strict=True).name


def test_validating_runs_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The unsafe tags would run `touch MARKER` under yaml.unsafe_load; the steps would."""
    monkeypatch.chdir(tmp_path)
    for name in CORPUS:
        check_file(str(INVALID / name))
    assert list(tmp_path.iterdir()) == [tmp_path / "home"]  # the isolated HOME, only


def test_alias_bomb_is_refused_in_well_under_a_second() -> None:
    started = time.perf_counter()
    report = check_file(str(INVALID / "alias-bomb.yaml"))
    assert time.perf_counter() - started < 0.25
    assert "alias bomb" in report.findings[0].message


def test_a_50_mb_file_is_refused_by_its_size_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    head = b"apiVersion: runbook/v1\n"
    path.write_bytes(head + b"#" * (50 * MIB - len(head) - 1) + b"\n")
    started = time.perf_counter()
    report = check_file(str(path))
    assert time.perf_counter() - started < 0.25
    assert [summary(f) for f in report.findings] == [
        "1:1: the file is 50.0 MiB, larger than the 1 MiB limit"
    ]
    assert report.findings[0].hint


def test_oversized_text_given_directly_is_refused_too() -> None:
    report = check_file("given.yaml", text="#" * (2 * MIB))
    assert [summary(f) for f in report.findings] == [
        "1:1: the file is 2.0 MiB, larger than the 1 MiB limit"
    ]


def test_deep_flow_nesting_is_refused_before_the_parser_slows_down() -> None:
    text = "steps: " + "[" * 200_000  # libyaml needs minutes for this, or crashes
    started = time.perf_counter()
    report = check_file("deep.yaml", text=text)
    assert time.perf_counter() - started < 0.5
    assert [summary(f) for f in report.findings] == [
        "1:72: brackets nested more than 64 levels deep"
    ]


def test_deep_block_nesting_is_refused_without_overflowing_the_stack() -> None:
    text = "".join(" " * depth + "a:\n" for depth in range(1000))
    report = check_file("deep.yaml", text=text)
    assert [summary(f) for f in report.findings] == ["65:65: data nested more than 64 levels deep"]


def test_aliases_stacked_past_the_depth_limit_are_refused() -> None:
    """Each anchor is shallow; only the expanded data is deep."""
    lines = ["a0: &a0 " + "[" * 30 + "x" + "]" * 30]
    lines += [f"a{i}: &a{i} " + "[" * 30 + f"*a{i - 1}" + "]" * 30 for i in range(1, 4)]
    report = check_file("stacked.yaml", text="\n".join(lines) + "\n")
    assert [f.message for f in report.findings] == ["data nested more than 64 levels deep"]


# What the YAML libraries word themselves: libyaml and PyYAML say these differently.
LOADER_WORDING = ("YAML syntax error:", "character U+")


@pytest.mark.parametrize("name", CORPUS)
def test_without_libyaml_the_findings_are_the_same(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pure-Python loader (no libyaml): same positions and paths; same messages but
    for what the YAML library itself words."""
    monkeypatch.setattr(yamlsource, "_Loader", yaml.SafeLoader)
    report = check_file(str(INVALID / name))
    found, wanted = [summary(f) for f in report.findings], expected(name)
    assert [s.split(" ")[0] for s in found] == [s.split(" ")[0] for s in wanted]
    for got, want in zip(found, wanted, strict=True):
        if not any(words in want for words in LOADER_WORDING):
            assert got == want
    assert all(f.hint for f in report.findings)


def test_without_libyaml_deep_nesting_is_refused_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yamlsource, "_Loader", yaml.SafeLoader)
    text = "".join(" " * depth + "a:\n" for depth in range(1000))
    report = check_file("deep.yaml", text=text)
    assert [f.message for f in report.findings] == ["data nested too deeply for the YAML parser"]
    assert report.findings[0].hint


@pytest.mark.timeout(10)
@pytest.mark.parametrize("kind", ["fifo", "device", "folder"])
def test_only_regular_files_are_read_and_a_fifo_is_not_waited_on(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "playbook.yaml"
    if kind == "fifo":
        os.mkfifo(path)  # opening it to read would wait for a writer, for ever
    elif kind == "folder":
        path.mkdir()
    file = "/dev/zero" if kind == "device" else str(path)  # /dev/zero never ends
    started = time.perf_counter()
    report = check_file(file)
    assert time.perf_counter() - started < 1
    [finding] = report.findings
    assert finding.message.startswith("cannot read: not a regular file but ")
    assert finding.hint == "give the path of a file: the engine reads no pipes or devices"
