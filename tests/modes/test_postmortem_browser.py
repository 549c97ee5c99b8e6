"""The HTML postmortem of a real run, opened in a real headless Chromium: the page loads
with no console error, the SLI chart is drawn (its pixels are not blank) with a marker
for each step and the recovery."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from PIL import Image
from sli_helpers import run_cli, run_id_of

MIN_COLOURS = 8  # a drawn chart: the line, the band, the markers, the text, the axes


def recovered_run(tmp: Path) -> str:
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
    done = run_cli("run", str(path), "--yes")
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
