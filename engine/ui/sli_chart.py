"""The SLI chart of a postmortem or a drill report: the value over time, the healthy band,
a marker for each step and undo, the moment the SLI recovered and the alert's start.

Drawn by matplotlib (Agg, imported only here, when a chart is drawn) as SVG that stands
alone: text kept as text (a control character shown as its escape), no date or random
id in it, so the same record draws the same bytes. Labels are drawn as they are written:
no mathtext (`$`) is read in them.
"""

from __future__ import annotations

import io
import time
from typing import TYPE_CHECKING

from msgspec import Struct

from engine.model.playbook import Healthy
from engine.ui.terminal_text import printable_line

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

WIDTH, HEIGHT = 9.0, 4.2  # inches, at 100 dpi: 900 by 420 px
HASH_SALT = "runbook-engine"  # the ids matplotlib makes: the same chart, the same SVG
LABEL_CHARS = 40  # a marker's label beyond this is cut
MARKER_COLOURS = {
    "step": "#1f77b4",
    "undo": "#9467bd",
    "failed": "#d62728",
    "recovered": "#2ca02c",
    "alert": "#ff7f0e",
    "inject": "#8c564b",
}


class Marker(Struct, frozen=True):
    """A vertical line at `ts` with its label; `kind` picks its colour."""

    ts: float
    label: str
    kind: str


class ChartData(Struct, frozen=True):
    """What the chart shows: SLI samples (time, value; None where unreadable)."""

    title: str
    samples: list[tuple[float, float | None]]
    healthy: Healthy | None
    markers: list[Marker]


def draw_svg(data: ChartData) -> str:
    """The chart as an SVG document (text)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot
    from matplotlib.figure import Figure

    with matplotlib.rc_context(
        {"svg.hashsalt": HASH_SALT, "svg.fonttype": "none", "text.parse_math": False}
    ):
        figure = Figure(figsize=(WIDTH, HEIGHT), dpi=100)
        _draw(figure, data)
        out = io.StringIO()
        figure.savefig(out, format="svg", metadata={"Date": None, "Creator": None})
        pyplot.close(figure)
    text = out.getvalue()
    return text[text.index("<svg") :]  # the document without its XML prologue and DOCTYPE


def _draw(figure: Figure, data: ChartData) -> None:
    start = _start(data)
    axes = figure.add_subplot(1, 1, 1)
    known = [(ts - start, value) for ts, value in data.samples if value is not None]
    if known:
        axes.plot([t for t, _ in known], [v for _, v in known], "o-", color="#333333", label="SLI")
    _band(axes, data.healthy)
    top = len(data.markers)
    for index, marker in enumerate(sorted(data.markers, key=lambda m: m.ts)):
        colour = MARKER_COLOURS.get(marker.kind, "#7f7f7f")
        axes.axvline(marker.ts - start, color=colour, linestyle="--", linewidth=1)
        height = 0.97 - 0.9 * index / max(top, 1)
        axes.text(
            marker.ts - start,
            height,
            _cut(marker.label),
            transform=axes.get_xaxis_transform(),
            fontsize=7,
            color=colour,
            rotation=0,
            va="top",
            gid=f"marker-{index}",
        )
    axes.set_title(printable_line(data.title), fontsize=10)
    clock = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(start))
    axes.set_xlabel(f"seconds after {clock}")
    axes.set_ylabel("SLI value")
    axes.grid(True, alpha=0.3)
    figure.tight_layout()


def _band(axes: Axes, healthy: Healthy | None) -> None:
    """The healthy band: shaded between its bounds (a one-sided bound, to the axis)."""
    if healthy is None:
        return
    colour, name = "#2ca02c", f"healthy: {healthy}"
    if healthy.op == "between" and healthy.high is not None:
        axes.axhspan(healthy.low, healthy.high, color=colour, alpha=0.15, label=name)
    elif healthy.op == "equals":
        axes.axhline(healthy.low, color=colour, linewidth=2, alpha=0.6, label=name)
    else:
        axes.axhline(healthy.low, color=colour, linewidth=1, alpha=0.8)
        low, high = axes.get_ylim()
        edge = min(low, healthy.low - 1) if healthy.op == "below" else max(high, healthy.low + 1)
        axes.axhspan(
            min(edge, healthy.low), max(edge, healthy.low), color=colour, alpha=0.15, label=name
        )
    axes.legend(loc="best", fontsize=7)


def _start(data: ChartData) -> float:
    times = [ts for ts, _ in data.samples] + [marker.ts for marker in data.markers]
    return min(times) if times else 0.0


def _cut(label: str) -> str:
    """The label on one line, a control character shown as its escape (no glyph draws
    it, and XML has no place for it), cut to `LABEL_CHARS`."""
    label = printable_line(label)
    return label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…"
