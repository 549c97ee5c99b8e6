"""`runbook import RUNBOOK.md [-o FILE]` as a user runs it: real processes. Each wiki page
of tests/playbooks/wiki/ is imported and the file `runbook validate` checks; one is run
at a pseudo-terminal as the level-1 checklist, its template-looking text shown as
written. Bad input is refused at file:line:col with exit 2, no traceback and no file."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pexpect
import pytest
import yaml
from run_fixtures import (
    current_env,
    finish_terminal,
    run_env,  # noqa: F401  (autouse fixture)
    runbook,
    spawn_terminal,
)
from tree import TESTS

PAGES = TESTS / "playbooks" / "wiki"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\r")


def _work() -> Path:
    return current_env().work


@pytest.mark.parametrize("page", sorted(p.name for p in PAGES.glob("*.md")))
def test_each_page_is_imported_into_a_file_runbook_validate_passes(page: str) -> None:
    output = _work() / "imported.yaml"
    imported = runbook("import", str(PAGES / page), "-o", str(output), "--owner", "tests")
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout == ""
    assert re.fullmatch(r"wrote \S+imported\.yaml: \d+ step\(s\), maturity 1\n", imported.stderr)
    checked = runbook("validate", "--strict", str(output))
    assert checked.returncode == 0, checked.stdout
    text = output.read_text(encoding="utf-8")
    assert text.startswith(f"# Imported by `runbook import` from {page}, a wiki runbook.\n")
    assert str(TESTS) not in text
    playbook = yaml.safe_load(text)
    assert playbook["metadata"]["maturity"] == 1
    assert all(set(step) <= {"id", "title", "manual", "undo"} for step in playbook["steps"])


def test_without_output_the_playbook_goes_to_stdout_and_no_file_is_made() -> None:
    imported = runbook("import", str(PAGES / "no-code.md"), cwd=_work())
    assert imported.returncode == 0, imported.stderr
    assert imported.stderr == ""
    assert list(_work().iterdir()) == []
    playbook = yaml.safe_load(imported.stdout)
    assert [s["id"] for s in playbook["steps"]] == [
        "tell-the-support-desk",
        "call-the-provider",
        "switch-to-the-backup-link",
    ]
    # Text of several lines is a literal block, as it reads in the page.
    assert "      instructions: |\n        Call the provider's support line" in imported.stdout


def test_an_existing_output_is_kept_unless_forced() -> None:
    output = _work() / "playbook.yaml"
    output.write_text("mine\n")
    refused = runbook("import", str(PAGES / "no-code.md"), "-o", str(output))
    assert refused.returncode == 2
    assert f"error: {output} already exists" in refused.stderr
    assert "--force" in refused.stderr
    assert output.read_text() == "mine\n"
    assert sorted(p.name for p in _work().iterdir()) == ["playbook.yaml"]

    forced = runbook("import", str(PAGES / "no-code.md"), "-o", str(output), "--force")
    assert forced.returncode == 0, forced.stderr
    assert "kind: Playbook" in output.read_text()
    assert sorted(p.name for p in _work().iterdir()) == ["playbook.yaml"]


def _refused(page: Path) -> str:
    output = _work() / "out.yaml"
    result = runbook("import", str(page), "-o", str(output))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not output.exists()
    return result.stderr


def test_a_page_that_is_not_utf8_is_refused_at_its_byte() -> None:
    page = _work() / "latin1.md"
    page.write_bytes("# Caf\u00e9\n\n## Red\u00e9marrer\n".encode("latin-1"))
    said = _refused(page)
    assert said.startswith(f"error: {page}:1:6: not UTF-8 text: byte 0xe9")
    assert "hint: save the file as UTF-8" in said


def test_an_empty_page_is_refused() -> None:
    page = _work() / "empty.md"
    page.write_text("")
    assert _refused(page).startswith(f"error: {page}:1:1: the file is empty")


def test_a_page_with_nothing_to_make_a_step_from_is_refused() -> None:
    page = _work() / "notes.md"
    page.write_text("# Notes\n\nThe database is slow sometimes.\n")
    said = _refused(page)
    assert said.startswith(f"error: {page}:1:1: found no step")
    assert "hint: give each step a heading" in said


def test_a_missing_page_is_refused() -> None:
    said = _refused(_work() / "nowhere.md")
    assert "cannot read: No such file or directory" in said


def test_an_output_in_a_missing_folder_is_refused() -> None:
    output = _work() / "no-such-folder" / "out.yaml"
    result = runbook("import", str(PAGES / "no-code.md"), "-o", str(output))
    assert result.returncode == 2
    assert "cannot write" in result.stderr and "Traceback" not in result.stderr


def test_the_imported_checklist_shows_each_step_and_template_text_as_written(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("RUNBOOK_PLAIN")
    output = _work() / "helm.yaml"
    assert runbook("import", str(PAGES / "helm-values.md"), "-o", str(output)).returncode == 0
    child = spawn_terminal("run", str(output), size=(40, 120))
    child.logfile_read = io.StringIO()
    for title in ("Look at the values", "Set the previous tag"):
        child.expect(f"── {re.escape(title)} ──")
        child.expect(r"result \(done, failed, skipped\) \[done\]: ")
        child.sendline("d")
        child.expect(r"note \(optional\)")
        child.sendline("")
    child.expect(pexpect.EOF)
    seen = ANSI.sub("", child.logfile_read.getvalue())
    assert finish_terminal(child) == 0, seen
    assert "helm get values payments -n prod" in seen
    assert "The chart reads the tag as `{{ .Values.image.tag }}`" in seen
    assert "a `{% raw %}` in the chart is not ours" in seen
    assert "tag: {{ .Values.image.tag }}" in seen  # the expected result
    assert "--set image.tag=v1.4.2" in seen
    assert "'{{'" not in seen
    assert "outcome: completed" in seen


def test_a_page_too_large_for_one_playbook_is_refused() -> None:
    section = "## Step {n}\n\n```console\n$ echo {n}\nout\n```\n\nExpected: {{{{ ok }}}}\n\n"
    page = _work() / "big.md"
    page.write_text("# Big\n\n" + "".join(section.format(n=n) for n in range(12000)))
    assert page.stat().st_size < 1024 * 1024
    said = _refused(page)
    assert said.startswith(f"error: {page}:1:1: the playbook made from this page does not pass")
    assert "larger than the 1 MiB limit" in said
    assert "hint: split the page into smaller runbooks" in said

    page.write_text("# Big\n\n## Step\n\n" + "word " * 250_000)
    said = _refused(page)
    assert said.startswith(f"error: {page}:1:1: the file is larger than 1 MiB")


def test_the_page_itself_is_never_the_output_even_forced() -> None:
    page = _work() / "page.md"
    page.write_text("# Fix\n\n## Do it\n\nNow.\n")
    result = runbook("import", str(page), "-o", str(page), "--force")
    assert result.returncode == 2
    assert f"error: {page} is the page itself" in result.stderr
    assert page.read_text() == "# Fix\n\n## Do it\n\nNow.\n"


def test_a_page_name_cannot_break_out_of_the_comment_that_names_it() -> None:
    page = _work() / "page\nmetadata: {}\u2028x.md"
    page.write_text("# Fix\n\n## Do it\n\nNow.\n")
    imported = runbook("import", str(page), "--owner", "tests")
    assert imported.returncode == 0, imported.stderr
    first = imported.stdout.split("\n", 1)[0]
    assert first == (
        "# Imported by `runbook import` from page\\u000ametadata: {}\\u2028x.md, a wiki runbook."
    )
    assert yaml.safe_load(imported.stdout)["metadata"]["name"] == "fix"


def test_the_plan_of_an_imported_page_names_each_step_in_words() -> None:
    output = _work() / "nodes.yaml"
    assert runbook("import", str(PAGES / "nested-headings.md"), "-o", str(output)).returncode == 0
    planned = runbook("plan", str(output))
    assert planned.returncode == 0, planned.stderr
    runs = re.findall(r"^\s+run:\s+(.*)$", planned.stdout, flags=re.M)
    assert runs == [
        "manual: Find the node:",
        "manual: SSH to the node and look at what uses the disk:",
        "manual: Do the same on the second node if the first was not enough.",
        "manual: Uncordon:",
    ]


def test_an_output_that_is_a_link_is_refused_even_forced_and_left_as_it_is() -> None:
    """Renaming the playbook over a link would replace the link itself: `-o` a link to
    /dev/null (as /dev/stdout is a link to a device) replaced it with a regular file."""
    work = _work()
    to_device = work / "to-device.yaml"
    to_device.symlink_to("/dev/null")
    to_file = work / "to-file.yaml"
    (work / "real.yaml").write_text("kept\n")
    to_file.symlink_to(work / "real.yaml")
    for link, kind in ((to_device, "a character device"), (to_file, "a symlink")):
        done = runbook("import", str(PAGES / "no-code.md"), "-o", str(link), "--force")
        assert done.returncode == 2, done.stdout + done.stderr
        assert f"error: cannot write {link}: it is {kind}, not a file" in done.stderr
        assert link.is_symlink()
    assert (work / "real.yaml").read_text() == "kept\n"
