"""`runbook postmortem RUN_ID|DRILL_ID`: a blameless draft of a real run or drill, as
Markdown and as one HTML page with the SLI chart; every field marked, secrets never
shown, everything from the record escaped."""

from __future__ import annotations

import base64
import json
import os
import re
import stat
import sys
import urllib.parse
import uuid
from pathlib import Path

import pytest
from prom_fixtures import PromStack
from sli_helpers import run_cli, run_id_of
from tree import TESTS

SECTIONS = [
    "## Overview",
    "## Summary",
    "## Impact",
    "## Timeline (UTC)",
    "## Detection",
    "## Response",
    "## Resolution",
    "## Root cause and contributing factors",
    "## Lessons learned",
    "## Action items",
    "## Times to detect, mitigate and resolve",
    "## Supporting information",
    "## SLI chart",
]
FILLED, TO_WRITE = "_(from the record)_", "_(to be written)_"
HEADER = "apiVersion: runbook/v1\nkind: Playbook\n"


def write(tmp: Path, name: str, body: str) -> Path:
    path = tmp / f"{name}.yaml"
    meta = f"metadata: {{name: {name}, version: 1.0.0, maturity: 2, owner: tests}}\n"
    path.write_text(HEADER + meta + body, encoding="utf-8")
    return path


def ran(path: Path, *args: str) -> str:
    done = run_cli("run", str(path), "--yes", *args)
    assert "Traceback" not in done.stderr, done.stderr
    return run_id_of(done.stdout)


def postmortem(story_id: str, *args: str) -> str:
    done = run_cli("postmortem", story_id, *args)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    return done.stdout


def field_line(text: str, label: str) -> str:
    """The Markdown line of field `label` (its value and its mark)."""
    return next(line for line in text.splitlines() if line.startswith(f"- **{label}:**"))


def recovering_playbook(tmp: Path, prom: PromStack) -> Path:
    job = f"job{uuid.uuid4().hex[:8]}"
    query = f'max(rb_errors{{job="{job}"}})'
    prom.push(job, "rb_errors", 5)
    prom.wait_for(query, 5)
    heal = f"{sys.executable} {TESTS / 'push_metric.py'} {prom.pushgateway_url}"
    body = (
        f"sli:\n  probe:\n    prometheus: {{url: '{prom.prometheus_url}', query: '{query}'}}\n"
        "  healthy: {below: 1}\n  settle: 1200ms\n  samples: 2\n  interval: 700ms\n"
        "steps:\n  - id: look\n    readonly: true\n    shell: {run: 'true'}\n"
        f"  - id: heal\n    shell: {{run: '{heal}/metrics/job/{job} rb_errors 0'}}\n"
        "    irreversible: it only pushes a metric\n"
    )
    return write(tmp, "pm-recovers", body)


@pytest.mark.integration
def test_a_run_whose_sli_recovers_gets_every_section_its_times_and_its_chart(
    prom_stack: PromStack, tmp_path: Path
) -> None:
    run_id = ran(recovering_playbook(tmp_path, prom_stack))

    text = postmortem(run_id)
    page = postmortem(run_id, "--format", "html")

    assert [line for line in text.splitlines() if line.startswith("## ")] == SECTIONS
    assert text.startswith(f"# Postmortem: pm-recovers 1.0.0 (run {run_id})\n")
    assert field_line(text, "Status") == f"- **Status:** draft {FILLED}"
    assert field_line(text, "Authors") == f"- **Authors:** to be written {TO_WRITE}"
    assert field_line(text, "Root cause") == f"- **Root cause:** to be written {TO_WRITE}"
    assert re.match(
        r"- \*\*SLI worst value:\*\* 5 at .* \(unhealthy\) ", field_line(text, "SLI worst value")
    )
    assert field_line(text, "SLI healthy band").startswith(
        "- **SLI healthy band:** healthy below 1 "
    )
    assert "no SLO declared" in field_line(text, "Error budget spent")
    mitigate = field_line(text, "Time to mitigate (TTM)")
    assert re.match(
        rf"- \*\*Time to mitigate \(TTM\):\*\* [0-9.]+m?s: from run {run_id} started to the first"
        rf" healthy SLI sample after the steps {re.escape(FILLED)}$",
        mitigate,
    ), mitigate
    assert re.search(r"\(TTR\):\*\* [0-9.]+m?s: from run ", text)
    assert field_line(text, "Time to detect (TTD)").endswith(f"unknown: to be written {TO_WRITE}")
    assert f"| step heal succeeded | `runbook show {run_id}` |" in text
    assert "| SLI recovered (first healthy sample) |" in text
    assert f"- **Playbook:** pm\\-recovers@1.0.0 {FILLED}" not in text  # `-` is not escaped
    assert f"- **Playbook:** pm-recovers@1.0.0 {FILLED}" in text
    svg = page[page.index('<figure class="chart from-record" id="sli-chart">') :]
    svg = svg[: svg.index("</svg>")]
    for label in ("step look", "step heal", "recovered", "healthy: below 1"):
        assert f">{label}<" in svg or label in svg, label
    assert 'class="to-write"' in page and 'class="badge">to be written<' in page
    assert 'class="from-record"' in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page.split("<svg")[0])


def test_a_failed_run_gets_an_action_item_for_its_failed_step_and_its_failed_undo(
    tmp_path: Path,
) -> None:
    body = (
        "steps:\n  - id: prepare\n    shell: {run: 'true'}\n"
        "    undo: {shell: {run: 'exit 3'}}\n"
        "  - id: migrate\n    shell: {run: 'exit 7'}\n    irreversible: it fails\n"
    )
    run_id = ran(write(tmp_path, "pm-fails", body))

    text = postmortem(run_id)
    page = postmortem(run_id, "--format", "html")

    items = text[text.index("## Action items") : text.index("## Times to detect")]
    rows = [line for line in items.splitlines() if line.startswith("| ") and "action" not in line]
    assert rows[0].startswith("| fix step migrate (failed")
    assert rows[0].endswith("| to be written | to be written |")
    assert (
        rows[1] == "| make the undo of step prepare work (failed) | to be written | to be written |"
    )
    assert rows[-1] == "| to be written | to be written | to be written |"
    badly = text[text.index("What went badly") : text.index("Where we got lucky")]
    assert "step migrate failed" in badly and "undo of step prepare failed (failed)" in badly
    assert field_line(text, "Chart") == f"- **Chart:** no SLI declared: no chart {FILLED}"
    assert field_line(text, "SLI healthy band").startswith(
        "- **SLI healthy band:** no SLI declared"
    )
    assert "<svg" not in page
    assert "no SLI declared: no chart" in page


def test_the_responders_are_named_as_responders_and_nobody_is_blamed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNBOOK_OPERATOR", "alice")
    body = "steps:\n  - id: migrate\n    shell: {run: 'exit 7'}\n    irreversible: it fails\n"
    run_id = ran(write(tmp_path, "pm-blameless", body))

    text = postmortem(run_id)

    responders = text[text.index("- **Responders:**") : text.index("- **Steps:**")]
    assert responders.splitlines()[1:] == ["  - alice"]
    assert [line for line in text.splitlines() if "alice" in line] == ["  - alice"]
    assert "blame" not in text.lower().replace("blameless", "")


def drill_playbook(tmp: Path) -> tuple[Path, Path]:
    state = tmp / "state"
    state.write_text("good\n")
    body = (
        f"sli:\n  probe:\n    command: {{run: 'grep -c good {state}; true'}}\n"
        "  healthy: {above: 0}\n  settle: 0s\n  samples: 1\n  interval: 200ms\n  timeout: 5s\n"
        "steps:\n  - id: fix\n    irreversible: writes the state\n"
        f"    shell: {{run: 'echo good > {state}'}}\n"
        "drill:\n  inject:\n    - id: break_it\n"
        f"      shell: {{run: 'sleep 0.2; echo bad > {state}'}}\n"
        f"      undo: {{shell: {{run: 'echo good > {state}'}}}}\n"
        "  detect_within: 5s\n"
    )
    return write(tmp, "pm-drill", body), state


def test_a_drill_gets_a_draft_and_its_html_report_with_the_chart(tmp_path: Path) -> None:
    path, state = drill_playbook(tmp_path)
    html = tmp_path / "drill.html"

    done = run_cli("drill", str(path), "--yes", "--output", "json", "--html", str(html))

    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    drill_id = report["drill_id"]
    assert stat.S_IMODE(html.stat().st_mode) == 0o600
    page = html.read_text(encoding="utf-8")
    assert f"drill {drill_id}" in page and "<svg" in page
    chart = page[page.index('id="sli-chart"') : page.index("</svg>")]
    for label in ("fault injected", "step break_it", "step fix", "undo break_it", "recovered"):
        assert label in chart, label
    text = postmortem(drill_id)
    assert [line for line in text.splitlines() if line.startswith("## ")] == SECTIONS
    assert text.startswith(f"# Postmortem: pm-drill 1.0.0 (drill {drill_id})\n")
    detect = field_line(text, "Time to detect (TTD)")
    assert re.search(
        r"\*\* [0-9.]+m?s: from drill .*: the fault injected to the drill's SLI", detect
    )
    assert "the drill measured the SLI recovered" in field_line(text, "Time to mitigate (TTM)")
    runs = [part["run_id"] for part in report["parts"]]
    assert all(f"`runbook show {run}`" in text for run in runs)
    assert state.read_text() == "good\n"


def test_drill_html_refuses_an_existing_file_before_the_drill_runs_and_replaces_it_when_told(
    tmp_path: Path,
) -> None:
    path, _ = drill_playbook(tmp_path)
    html = tmp_path / "drill.html"
    html.write_text("kept")

    done = run_cli("drill", str(path), "--yes", "--html", str(html))

    assert done.returncode == 2, done.stdout + done.stderr
    assert (
        done.stderr == f"error: {html} already exists\n  hint: add --replace-html to replace it\n"
    )
    assert html.read_text() == "kept"
    assert json.loads(run_cli("drills", "-o", "json").stdout) == []  # no drill ran
    replaced = run_cli("drill", str(path), "--yes", "--html", str(html), "--replace-html")
    assert replaced.returncode == 0, replaced.stdout + replaced.stderr
    assert html.read_text().startswith("<!DOCTYPE html>")
    assert stat.S_IMODE(html.stat().st_mode) == 0o600


def test_drill_html_refuses_a_folder_it_could_not_write_before_the_drill_runs(
    tmp_path: Path,
) -> None:
    path, state = drill_playbook(tmp_path)
    read_only = tmp_path / "read-only"
    read_only.mkdir(mode=0o500)
    targets = {
        tmp_path / "missing" / "drill.html": "there is no folder",
    }
    if os.geteuid() != 0:  # root writes in a read-only folder
        targets[read_only / "drill.html"] = f"the folder {read_only} is not writable"

    for target, said in targets.items():
        done = run_cli("drill", str(path), "--yes", "--html", str(target), "--replace-html")

        assert done.returncode == 2, done.stdout + done.stderr
        assert done.stderr.startswith(f"error: cannot write {target}: {said}"), done.stderr
        assert "hint:" in done.stderr and "Traceback" not in done.stderr
    assert json.loads(run_cli("drills", "-o", "json").stdout) == []  # no drill ran
    assert state.read_text() == "good\n"


CANARY = "canary-5e1f0c2a9d"
SECRET_BODY = (
    "secrets:\n  token: {env: PM_CANARY}\n"
    "steps:\n  - id: leak\n    irreversible: it fails\n    shell:\n"
    '      run: \'echo "$T"; printf %s "$T" | base64; echo "$U" >&2; echo "$T" >&2; exit 4\'\n'
    "      env: {T: '{{ secrets.token }}', U: '{{ secrets.token | urlencode }}'}\n"
)


def test_a_secret_never_appears_in_the_draft_nor_encoded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PM_CANARY", CANARY + "/+=?&")
    run_id = ran(write(tmp_path, "pm-secret", SECRET_BODY))

    drafts = [postmortem(run_id), postmortem(run_id, "--format", "html")]

    secret = CANARY + "/+=?&"
    forms = [
        CANARY,
        base64.b64encode(secret.encode()).decode()[:12],
        urllib.parse.quote(secret, safe=""),
        urllib.parse.quote_plus(secret),
    ]
    for draft in drafts:
        assert "fix step leak (failed" in draft
        for form in forms:
            assert form not in draft, form


XSS = "<script>alert(1)</script>"


def test_what_the_record_holds_is_escaped_in_html_and_markdown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNBOOK_OPERATOR", XSS)
    body = (
        "steps:\n  - id: migrate\n    irreversible: it fails\n"
        f"    shell: {{run: 'echo \"{XSS}\" >&2; exit 7'}}\n"
    )
    run_id = ran(write(tmp_path, "pm-escape", body))

    text = postmortem(run_id)
    page = postmortem(run_id, "--format", "html")

    assert "<script" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert not re.search(r"(?<!\\)<", text)  # every < of the record escaped as \<
    assert "  - \\<script\\>alert(1)\\</script\\>" in text


def test_an_unknown_id_is_a_clear_error_with_exit_2(tmp_path: Path) -> None:
    for unknown, said in (("r-nope", "no run 'r-nope'"), ("d2000", "no drill 'd2000'")):
        done = run_cli("postmortem", unknown)
        assert done.returncode == 2, done.stdout + done.stderr
        assert done.stderr.startswith(f"error: {said} in the ledger\n  hint: "), done.stderr
        assert "Traceback" not in done.stderr and done.stdout == ""


def test_the_output_file_is_private_written_whole_and_replaced_only_with_force(
    tmp_path: Path,
) -> None:
    body = "steps:\n  - id: noop\n    readonly: true\n    shell: {run: 'true'}\n"
    run_id = ran(write(tmp_path, "pm-output", body))
    out = tmp_path / "draft.md"

    first = run_cli("postmortem", run_id, "-o", str(out))
    again = run_cli("postmortem", run_id, "-o", str(out), "--format", "html")
    kept = out.read_text()
    forced = run_cli("postmortem", run_id, "-o", str(out), "--format", "html", "--force")

    assert first.returncode == 0, first.stderr
    assert kept == postmortem(run_id)
    assert again.returncode == 2
    assert again.stderr.startswith(f"error: {out} already exists\n  hint: add --force")
    assert forced.returncode == 0, forced.stderr
    assert out.read_text().startswith("<!DOCTYPE html>")
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert sorted(os.listdir(tmp_path)) == sorted(["draft.md", "home", "pm-output.yaml"])


def test_an_output_that_is_a_device_or_a_pipe_is_refused_also_with_force(
    tmp_path: Path,
) -> None:
    body = "steps:\n  - id: noop\n    readonly: true\n    shell: {run: 'true'}\n"
    run_id = ran(write(tmp_path, "pm-device", body))
    link = tmp_path / "stdout"
    link.symlink_to(os.devnull)  # as /dev/stdout is a link to a device
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)

    for target, kind in ((link, "a character device"), (fifo, "a FIFO (named pipe)")):
        done = run_cli("postmortem", run_id, "-o", str(target), "--force", timeout=20)

        assert done.returncode == 2, done.stdout + done.stderr
        assert done.stderr.startswith(f"error: cannot write {target}: it is {kind}, not a file")
        assert "hint: name a file" in done.stderr
    assert link.is_symlink() and os.readlink(link) == os.devnull
    assert stat.S_ISFIFO(fifo.lstat().st_mode)


def test_a_later_rollback_of_the_run_is_part_of_its_story(tmp_path: Path) -> None:
    body = (
        "sli:\n  probe:\n    command: {run: 'echo 1'}\n"
        "  healthy: {below: 1}\n  settle: 0s\n  samples: 1\n  interval: 100ms\n  timeout: 1s\n"
        "steps:\n  - id: fix\n    shell: {run: 'true'}\n    undo: {shell: {run: 'exit 3'}}\n"
    )
    done = run_cli("run", str(write(tmp_path, "pm-rollback", body)), "--yes")
    assert done.returncode == 3, done.stdout + done.stderr
    run_id = run_id_of(done.stdout)
    undone = run_cli("rollback", run_id, "--yes")
    assert undone.returncode == 4, undone.stdout + undone.stderr

    text = postmortem(run_id)

    (rollback,) = json.loads(run_cli("runs", "--mode", "rollback", "-o", "json").stdout)
    assert f"| `runbook show {rollback['run_id']}` | rollback | rollback\\_failed |" in text
    items = text[text.index("## Action items") : text.index("## Times to detect")]
    assert f"| find why the SLI did not recover after run {run_id} |" in items
    assert "| make the undo of step fix work (failed) |" in items
    assert f"| undo of step fix failed | `runbook show {rollback['run_id']}` |" in text


def test_a_refused_drill_gets_its_html_report_saying_nothing_was_injected(tmp_path: Path) -> None:
    path, state = drill_playbook(tmp_path)
    state.write_text("bad\n")  # the SLI is unhealthy before: refused
    html = tmp_path / "drill.html"

    done = run_cli("drill", str(path), "--yes", "--html", str(html))

    assert done.returncode == 5, done.stdout + done.stderr
    page = html.read_text(encoding="utf-8")
    assert "A game-day drill, refused: nothing was injected." in page
    assert "drill found (refused): the SLI is unhealthy before the drill" in page
    assert "<svg" not in page and "no chart" in page
    (drill,) = json.loads(run_cli("drills", "-o", "json").stdout)
    assert f"drill {drill['drill_id']} started" in page


def test_an_sli_judged_without_a_threshold_is_charted_by_its_verdicts(tmp_path: Path) -> None:
    marker = tmp_path / "fixed"
    body = (
        f"sli:\n  probe:\n    command: {{run: 'test -f {marker}'}}\n"
        "  settle: 0s\n  samples: 1\n  interval: 100ms\n  timeout: 5s\n"
        f"steps:\n  - id: heal\n    shell: {{run: 'touch {marker}'}}\n"
        "    irreversible: it only makes a file\n"
    )
    run_id = ran(write(tmp_path, "pm-verdicts", body))

    page = postmortem(run_id, "--format", "html")

    chart = page[page.index('id="sli-chart"') : page.index("</svg>")]
    assert ">SLI of pm-verdicts (1: healthy, 0: unhealthy)<" in chart
    assert ">step heal<" in chart and ">recovered<" in chart
