"""The HTML postmortem of a real run, and of an incident of two runs, opened in a real
headless Chromium: the page loads with no console error, the SLI chart is drawn (its
pixels are not blank) with a marker for each step and the recovery."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from PIL import Image
from sli_helpers import run_cli, run_id_of

MIN_COLOURS = 8  # a drawn chart: the line, the band, the markers, the text, the axes


def recovered_run(tmp: Path, *args: str) -> str:
    state = tmp / "state"
    state.write_text("bad\n")
    text = (
        "apiVersion: runbook/v1\nkind: Playbook\n"
        "metadata: {name: pm-browser, version: 1.0.0, maturity: 2, owner: tests}\n"
        f"sli:\n  probe:\n    command: {{run: 'grep -c good {state}; true'}}\n"
        "  healthy: {above: 0}\n  settle: 0s\n  samples: 2\n  interval: 200ms\n  timeout: 5s\n"
        "steps:\n  - id: look\n    readonly: true\n    shell: {run: 'sleep 0.3'}\n"
        f"  - id: heal\n    irreversible: writes the state\n"
        f"    shell: {{run: 'echo good > {state}'}}\n"
    )
    path = tmp / "pm-browser.yaml"
    path.write_text(text, encoding="utf-8")
    done = run_cli("run", str(path), "--yes", *args)
    assert done.returncode == 0, done.stdout + done.stderr
    return run_id_of(done.stdout)


def test_chromium_draws_the_chart_of_the_html_postmortem_without_a_console_error(
    tmp_path: Path, chromium: Any
) -> None:
    from selenium.webdriver.common.by import By

    page = tmp_path / "postmortem.html"
    run_id = recovered_run(tmp_path)
    written = run_cli("postmortem", run_id, "--format", "html", "-o", str(page))
    assert written.returncode == 0, written.stderr

    chromium.get(page.as_uri())

    assert chromium.title.startswith(f"Postmortem: pm-browser 1.0.0 (run {run_id})")
    chart = chromium.find_element(By.CSS_SELECTOR, "#sli-chart svg")
    assert chart.size["width"] > 300 and chart.size["height"] > 150
    labels = [t.text for t in chart.find_elements(By.CSS_SELECTOR, "text")]
    for marker in ("step look", "step heal", "recovered"):
        assert marker in labels, labels
    shot = Image.open(io.BytesIO(chart.screenshot_as_png)).convert("RGB")
    colours = shot.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) >= MIN_COLOURS, len(colours or [])
    assert max(count for count, _ in colours) < shot.width * shot.height  # not one colour
    badges = chromium.find_elements(By.CSS_SELECTOR, ".to-write .badge")
    assert badges and all(b.is_displayed() and b.text == "to be written" for b in badges)
    errors = [e for e in chromium.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    assert errors == []


def test_chromium_draws_an_incident_page_its_runs_on_one_chart_a_human_time_marked(
    tmp_path: Path, chromium: Any
) -> None:
    from selenium.webdriver.common.by import By

    opened = run_cli("incident", "open", "--title", "checkout errors", "--severity", "sev2")
    incident_id = opened.stdout.split()[-1]
    first = recovered_run(tmp_path, "--incident", incident_id)
    second = recovered_run(tmp_path, "--incident", incident_id)
    set_ = run_cli("incident", "set", incident_id, "--impact-started", "2026-01-01T00:00:00Z")
    assert set_.returncode == 0, set_.stderr
    page = tmp_path / "incident.html"
    written = run_cli("postmortem", incident_id, "--format", "html", "-o", str(page))
    assert written.returncode == 0, written.stderr

    chromium.get(page.as_uri())

    assert chromium.title == f"Postmortem: checkout errors (incident {incident_id})"
    chart = chromium.find_element(By.CSS_SELECTOR, "#sli-chart svg")
    labels = [t.text for t in chart.find_elements(By.CSS_SELECTOR, "text")]
    assert labels.count("step heal") == 2 and "recovered" in labels, labels
    shot = Image.open(io.BytesIO(chart.screenshot_as_png)).convert("RGB")
    colours = shot.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) >= MIN_COLOURS, len(colours or [])
    body = chromium.find_element(By.TAG_NAME, "body").text
    assert first in body and second in body
    human = chromium.find_elements(By.CSS_SELECTOR, ".by-human")
    assert human and all(h.find_element(By.CSS_SELECTOR, ".badge").is_displayed() for h in human)
    assert any("impact started set by a human" in h.text for h in human)
    errors = [e for e in chromium.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    assert errors == []
