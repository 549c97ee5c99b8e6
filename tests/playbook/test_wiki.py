"""A Markdown wiki runbook read as the parts of a level-1 playbook (`read_wiki`), on
real-world-shaped pages (tests/playbooks/wiki/): the steps a page's headings or list
give, their instructions as written, commands without prompts, expected results, the
sections that describe rather than act, the rollback, and template-looking text kept
literal. Every page's playbook passes the engine's own checks."""

from __future__ import annotations

from pathlib import Path

import pytest
from tree import TESTS

from engine.core.errors import UsageError
from engine.modes.wiki_import import playbook_text
from engine.playbook.loader import check_file
from engine.playbook.wiki import WikiRunbook, read_wiki, slug, template_literal
from engine.templating.render import TemplateRenderer

PAGES = TESTS / "playbooks" / "wiki"


def _read(name: str) -> WikiRunbook:
    path = PAGES / name
    text = path.read_bytes().decode("utf-8").replace("\r\n", "\n")
    return read_wiki(str(path), text, path.stem)


def _step(wiki: WikiRunbook, step_id: str) -> dict[str, str]:
    step = next(s for s in wiki.steps if s.id == step_id)
    return {"title": step.title, "instructions": step.instructions, "expect": step.expect}


@pytest.mark.parametrize("page", sorted(p.name for p in PAGES.glob("*.md")))
def test_every_page_gives_a_playbook_the_checker_passes(page: str) -> None:
    wiki = _read(page)
    report = check_file(f"{page}.yaml", playbook_text(wiki, page, owner="tests"))
    assert report.ok(strict=True), [f.render() for f in report.findings]
    assert report.playbook is not None
    assert report.playbook.metadata.maturity == 1
    assert {s.action.type for s in report.playbook.steps} == {"manual"}


def test_a_numbered_list_without_headings_gives_a_step_per_item() -> None:
    wiki = _read("numbered-list.md")
    assert wiki.name == "redis-memory-full"
    assert wiki.summary == "Redis memory full"
    assert [s.id for s in wiki.steps] == [
        "open-the-redis-dashboard-and-note-which",
        "connect-to-it-and-check-the-memory",
        "find-the-biggest-keys-with-redis-cli-bigkeys",
        "if-a-single-key-prefix-holds-most-of-the-memory",
        "raise-maxmemory-by-10-if-the-host-has-room-and",
    ]
    connect = _step(wiki, "connect-to-it-and-check-the-memory")
    assert connect == {
        "title": "Connect to it and check the memory",
        "instructions": "Connect to it and check the memory:\n```\n"
        "redis-cli -h cache-1 info memory\n```",
        "expect": "`used_memory_human` close to `maxmemory_human`.",
    }
    # An item of two lines keeps both; its title is cut at a word.
    long_item = _step(wiki, "if-a-single-key-prefix-holds-most-of-the-memory")
    assert long_item["instructions"] == (
        "If a single key prefix holds most of the memory, ask its owner before deleting\n"
        "anything: deleted keys are gone."
    )
    assert long_item["title"].endswith("…") and len(long_item["title"]) <= 72
    # The text around the list describes the runbook.
    assert "`used_memory` is at `maxmemory`" in wiki.description
    assert "Owner: the platform team" in wiki.description


def test_nested_headings_give_the_steps_at_the_level_the_page_uses() -> None:
    wiki = _read("nested-headings.md")
    # "Procedure" holds the steps; "Overview", "Prerequisites", "Contacts" describe.
    assert [s.id for s in wiki.steps] == [
        "find-the-node",
        "free-space-on-the-node",
        "free-space-on-the-node-2",
        "uncordon",
    ]
    assert wiki.steps[0].title == "Step 1: Find the node"
    for words in ("## Overview", "evicts pods", "## Prerequisites", "SSH to the nodes"):
        assert words in wiki.description
    assert "#platform-oncall" in wiki.description
    # A deeper heading stays inside its step's instructions.
    find = _step(wiki, "find-the-node")
    assert "#### If several nodes are affected\n\nStart with the one" in find["instructions"]


def test_console_blocks_lose_their_prompts_and_their_output_becomes_comments() -> None:
    wiki = _read("nested-headings.md")
    free = _step(wiki, "free-space-on-the-node")
    assert free["instructions"] == (
        "SSH to the node and look at what uses the disk:\n\n```sh\n"
        "sudo du -xh /var/lib --max-depth=2 | sort -h | tail\n"
        "# 12G     /var/lib/containerd\n"
        "sudo crictl rmi --prune\n"
        "# Deleted: sha256:0a1b2c\n```"
    )
    assert free["expect"] == "You should see the free space grow in `df -h /var/lib`."
    uncordon = _step(wiki, "uncordon")
    # Instructions that open with code are led by the heading's words (what `plan` shows).
    assert uncordon["instructions"] == (
        "Uncordon:\n\n```sh\nkubectl uncordon node-1\n# node/node-1 uncordoned\n```"
    )
    assert uncordon["expect"].startswith("Expect the node to report `Ready`")


def test_a_rollback_section_is_the_undo_of_the_first_step() -> None:
    wiki = _read("nested-headings.md")
    undo = wiki.steps[0].undo
    assert undo is not None
    assert undo.instructions == (
        "If pods fail to start after the prune, pull their images again:\n"
        "`sudo crictl pull <image>`."
    )
    assert all(s.undo is None for s in wiki.steps[1:])
    assert "Rollback" not in wiki.description


def test_a_rollback_under_a_step_is_that_steps_undo() -> None:
    text = (
        "# Upgrade\n\n## Check\n\nLook.\n\n## Upgrade the chart\n\nRun `helm upgrade`.\n\n"
        "### Rollback\n\nRun `helm rollback app`.\n\nExpected: the old revision runs.\n"
    )
    wiki = read_wiki("upgrade.md", text, "upgrade")
    assert [s.id for s in wiki.steps] == ["check", "upgrade-the-chart"]
    upgrade = wiki.steps[1]
    assert upgrade.instructions == "Run `helm upgrade`."
    assert upgrade.undo is not None
    assert upgrade.undo.instructions == "Run `helm rollback app`."
    assert upgrade.undo.expect == "the old revision runs."
    assert wiki.steps[0].undo is None


def test_prose_only_steps_keep_their_text_and_expectations() -> None:
    wiki = _read("no-code.md")
    assert [s.id for s in wiki.steps] == [
        "tell-the-support-desk",
        "call-the-provider",
        "switch-to-the-backup-link",
    ]
    call = _step(wiki, "call-the-provider")
    assert call["instructions"] == (
        'Call the provider\'s support line (in the shared vault under "ISP") and give them the\n'
        "contract number. Ask for a ticket number and write it in the incident channel."
    )
    assert call["expect"] == "a ticket number from the provider."
    switch = _step(wiki, "switch-to-the-backup-link")
    assert switch["expect"] == "Verify that the office can reach the internet again."
    assert "Verify" not in switch["instructions"]


def test_template_looking_text_is_kept_literal() -> None:
    wiki = _read("helm-values.md")
    # A setext title and a "Steps" section holding the steps.
    assert wiki.name == "rotating-the-image-tag-of-the-payments-chart"
    assert [s.id for s in wiki.steps] == ["look-at-the-values", "set-the-previous-tag"]
    look = _step(wiki, "look-at-the-values")
    assert "`{{ '{{' }} .Values.image.tag }}`" in look["instructions"]
    assert "`{{ '{%' }} raw %}`" in look["instructions"]
    # "Expected output:" takes the code block after it, its indentation kept.
    assert look["expect"] == "image:\n  tag: {{ '{{' }} .Values.image.tag }}"


def test_windows_line_endings_read_as_any_other_page() -> None:
    raw = (PAGES / "windows-line-endings.md").read_bytes()
    assert b"\r\n" in raw
    wiki = _read("windows-line-endings.md")
    assert [s.id for s in wiki.steps] == [
        "check-the-expiry-date",
        "renew-the-certificate",
        "check-the-new-date",
    ]
    assert all("\r" not in s.instructions + s.expect for s in wiki.steps)
    assert wiki.steps[0].expect == "a date less than 7 days away."


def test_a_page_without_steps_is_refused_at_its_first_line() -> None:
    text = "# Notes\n\nThe database is slow sometimes.\n\n## Overview\n\nNothing to do.\n"
    with pytest.raises(UsageError) as refused:
        read_wiki("notes.md", text, "notes")
    assert str(refused.value.location) == "notes.md:1:1"
    assert "found no step" in refused.value.message
    assert "numbered list" in refused.value.hint


def test_an_empty_page_is_refused() -> None:
    with pytest.raises(UsageError) as refused:
        read_wiki("empty.md", "\n  \n", "empty")
    assert refused.value.message == "the file is empty"


def test_ids_and_names_fit_the_format_and_never_repeat() -> None:
    text = "## Étape: vérifier\n\nA.\n\n## 🔥\n\nB.\n\n## 🔥\n\nC.\n\n## Step 4) Restart\n\nD.\n"
    wiki = read_wiki("Disk Full (prod).md", text, "Disk Full (prod)")
    assert wiki.name == "disk-full-prod"  # no title: the file's name
    assert [s.id for s in wiki.steps] == ["etape-verifier", "step-2", "step-3", "restart"]
    assert slug("x" * 70 + " y", 63) == "x" * 63
    assert slug("a-" * 40, 63).endswith("a")


def test_front_matter_is_not_a_heading() -> None:
    text = "---\ntitle: Disk full\ntags: [disk]\n---\n# Disk full\n\n## Free space\n\nDo it.\n"
    wiki = read_wiki("disk.md", text, "disk")
    assert wiki.name == "disk-full"
    assert [s.id for s in wiki.steps] == ["free-space"]
    assert "tags" not in wiki.description


def test_a_literal_template_renders_to_the_text_it_was() -> None:
    text = "{{ .Values.x }} {%- if %} {{{ y }}} {#"
    assert TemplateRenderer({}).text(template_literal(text)) == text


def test_description_sections_are_not_mistaken_for_steps() -> None:
    text = (
        "# Db\n\n## Contact the DB team\n\nCall them.\n\n## Escalation path\n\nPage the lead.\n"
        "\n## Notes\n\nNone.\n"
    )
    wiki = read_wiki("db.md", text, "db")
    assert [s.id for s in wiki.steps] == ["contact-the-db-team"]
    assert "Page the lead." in wiki.description and "None." in wiki.description


def test_a_page_with_only_a_path_like_name_keeps_the_source_name_out(tmp_path: Path) -> None:
    page = tmp_path / "runbook.md"
    page.write_text("# Fix it\n\n## Do\n\nIt.\n")
    text = playbook_text(read_wiki(str(page), page.read_text(), page.stem), page.name)
    assert str(tmp_path) not in text
    assert text.startswith("# Imported by `runbook import` from runbook.md")


def test_a_first_heading_of_level_1_with_only_text_under_it_is_the_title() -> None:
    text = "# Restart the API\n\n# Drain traffic\n\nShift it.\n\n# Restart\n\n# Check\n"
    wiki = read_wiki("api.md", text, "api")
    assert (wiki.name, wiki.summary) == ("restart-the-api", "Restart the API")
    assert [s.id for s in wiki.steps] == ["drain-traffic", "restart", "check"]
    assert wiki.steps[1].instructions == "Restart"  # a heading alone: its own words

    # Headings of one level that are all steps: the first one holds code.
    text = "# Check\n\n```\ncurl /healthz\n```\n\n# Restart\n\nDo it.\n"
    wiki = read_wiki("api.md", text, "api")
    assert wiki.name == "api"
    assert [s.id for s in wiki.steps] == ["check", "restart"]


def test_code_blocks_keep_shell_variables_and_their_own_indentation() -> None:
    text = (
        "# Paths\n\n## Show the path\n\n```sh\n$HOME/bin/check --all\n```\n\n"
        "## Print the query\n\n        SELECT 1\n    FROM t;\n\n"
        "## Quoted\n\n> ```console\n> $ ls\n> ```\n"
    )
    wiki = read_wiki("paths.md", text, "paths")
    assert wiki.steps[0].instructions == "Show the path:\n\n```sh\n$HOME/bin/check --all\n```"
    # An indented block is fenced, its lines moved left together, no language guessed.
    assert wiki.steps[1].instructions == "Print the query:\n\n```\n    SELECT 1\nFROM t;\n```"
    # A block inside a quote is left as written.
    assert wiki.steps[2].instructions == "> ```console\n> $ ls\n> ```"


def test_old_mac_line_ends_and_nul_characters_read_as_commonmark_reads_them() -> None:
    wiki = read_wiki("mac.md", "# T\r\r## Step\r\rDo\x00 it.\r", "mac")
    assert [s.id for s in wiki.steps] == ["step"]
    assert wiki.steps[0].instructions == "Do\ufffd it."
    report = check_file("mac.yaml", playbook_text(wiki, "mac.md", owner="tests"))
    assert report.ok(strict=True), [f.render() for f in report.findings]
    assert report.playbook is not None
    assert TemplateRenderer({}).text(report.playbook.steps[0].action.spec.instructions)


def test_an_expected_output_label_takes_an_indented_block_or_an_unclosed_fence() -> None:
    text = (
        "# Db\n\n## Count\n\nRun `count`.\n\nYou should see:\n\n    rows\n    ----\n      42\n\n"
        "## Ping\n\nRun `ping`.\n\nExpected output:\n\n```\npong\n  pong"
    )
    wiki = read_wiki("db.md", text, "db")
    assert [(s.instructions, s.expect) for s in wiki.steps] == [
        ("Run `count`.", "rows\n----\n  42"),
        ("Run `ping`.", "pong\n  pong"),
    ]
