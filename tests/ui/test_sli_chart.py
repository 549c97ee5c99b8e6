"""The SLI chart: the same record draws the same SVG, with nothing dated or loaded from
elsewhere, and a label is drawn as written (escaped, no mathtext)."""

from __future__ import annotations

import re
import warnings
from xml.etree import ElementTree

from engine.model.playbook import Healthy
from engine.ui.sli_chart import ChartData, Marker, draw_svg

START = 1_796_680_000.0


def chart(label: str = "step heal") -> ChartData:
    samples = [(START + t, v) for t, v in ((0, 5.0), (1, 5.0), (2, None), (3, 0.0), (4, 0.0))]
    markers = [
        Marker(START + 0.5, "step look", "step"),
        Marker(START + 1.5, label, "step"),
        Marker(START + 3, "recovered", "recovered"),
        Marker(START - 10, "alert ServiceDown", "alert"),
    ]
    return ChartData("SLI of pm-test", samples, Healthy("below", 1.0), markers)


def test_the_same_record_draws_the_same_svg_with_no_date_and_nothing_fetched() -> None:
    first, second = draw_svg(chart()), draw_svg(chart())

    assert first == second
    assert first.startswith("<svg")
    assert "<dc:date>" not in first and "Matplotlib" not in first
    addresses = set(re.findall(r"""(?:href|src)=["']([^"']+)""", first))
    assert all(address.startswith("#") for address in addresses), addresses
    for label in ("step look", "step heal", "recovered", "alert ServiceDown", "healthy: below 1"):
        assert f">{label}<" in first, label
    assert ">seconds after 2026-12-07 21:46:30 UTC<" in first  # from the earliest mark


def test_a_label_is_drawn_as_written() -> None:
    drawn = draw_svg(chart("step <script>alert(1)</script> $x^2$"))

    assert "<script" not in drawn
    assert "&lt;script&gt;alert(1)&lt;/script&gt; $x^2$" in drawn


def test_a_control_character_in_a_label_is_shown_not_written_into_the_svg() -> None:
    label = "alert Disk\x1b[31mFull\x00\x07"
    made = chart(label)
    made = ChartData(f"SLI of {label}", made.samples, made.healthy, made.markers)

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns of a glyph it cannot draw
        drawn = draw_svg(made)

    assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", drawn)
    ElementTree.fromstring(drawn)  # an SVG that stands alone: well-formed XML
    assert "alert Disk\\x1b[31mFull" in drawn
