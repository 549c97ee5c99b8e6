"""A postmortem draft (or a drill report) as one HTML page that stands alone: the style
inline, the SLI chart inline as SVG, nothing loaded from the network. Every value from
the record is escaped (jinja2's autoescape); each field carries its mark, a class and a
visible badge: filled from the record, or to be written by a human."""

from __future__ import annotations

from markupsafe import Markup, escape

from engine.modes.postmortem.sections import Cell, Draft
from engine.ui.sli_chart import draw_svg

_URL_SCHEMES = ("http://", "https://")

PAGE = """\
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy"
 content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>{{ draft.title }}</title>
<style>
body { font-family: sans-serif; max-width: 60rem; margin: 2rem auto; color: #222; }
table { border-collapse: collapse; margin: .5rem 0; }
td, th { border: 1px solid #ccc; padding: .2rem .5rem; text-align: left; vertical-align: top; }
.badge { font-size: .75rem; border-radius: .3rem; padding: 0 .3rem; margin-left: .4rem; }
.from-record .badge { background: #e3f2e1; color: #1b5e20; }
.to-write .badge { background: #fff3cd; color: #7a5200; }
.to-write > .value { font-style: italic; }
.by-human .badge { background: #e1ecf7; color: #0d3c61; }
.chart svg { max-width: 100%; height: auto; }
</style>
</head>
<body>
<h1>{{ draft.title }}</h1>
<p>Draft. Each field is marked <span class="from-record"><span class="badge">from the
record</span></span> or <span class="to-write"><span class="badge">to be written</span></span>;
blameless: people are named as responders, never as a cause.</p>
{% for section in draft.sections %}
<section>
<h2>{{ section.title }}</h2>
{% for block in section.blocks %}
{% set mark = "by-human" if block.by_human else ("from-record" if block.filled else "to-write") %}
{% set badge = badges[mark] %}
{% if block.headers %}
<div class="{{ mark }}">{% if block.label %}<strong>{{ block.label }}</strong>{% endif %}
<span class="badge">{{ badge }}</span>
<table>
<tr>{% for header in block.headers %}<th>{{ header }}</th>{% endfor %}</tr>
{% for row in block.rows %}
<tr>{% for cell in row %}<td>{{ link(cell) }}</td>{% endfor %}</tr>
{% endfor %}
</table></div>
{% elif block.items or not block.text %}
<div class="{{ mark }}"><strong>{{ block.label }}</strong><span class="badge">{{ badge }}</span>
<ul>{% for item in block.items %}<li>{{ item }}</li>{% endfor %}</ul></div>
{% else %}
<p class="{{ mark }}"><strong>{{ block.label }}:</strong>
<span class="value">{{ block.text }}</span><span class="badge">{{ badge }}</span></p>
{% endif %}
{% endfor %}
</section>
{% endfor %}
<section>
<h2>SLI chart</h2>
{% if svg %}
<figure class="chart from-record" id="sli-chart">{{ svg }}
<figcaption>The SLI over time: the healthy band shaded, a dashed line for each step and undo,
the moment it recovered<span class="badge">from the record</span></figcaption></figure>
{% else %}
<p class="from-record" id="no-chart">{{ draft.no_chart }}
<span class="badge">from the record</span></p>
{% endif %}
</section>
</body>
</html>
"""

BADGES = {
    "by-human": "set by a human",
    "from-record": "from the record",
    "to-write": "to be written",
}


def render_html(draft: Draft) -> str:
    """The draft as a page; its chart drawn when it has one."""
    import jinja2

    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    template = environment.from_string(PAGE)
    chart = draft.chart
    svg = Markup(draw_svg(chart)) if chart else ""  # noqa: S704 - matplotlib escapes its text
    return template.render(draft=draft, svg=svg, link=link, badges=BADGES)


def link(cell: Cell) -> Markup:
    """A cell: its link when it has one (a web address as a link, a command as code)."""
    if cell.link.startswith(_URL_SCHEMES):
        return Markup('<a href="{}" rel="noreferrer">{}</a>').format(cell.link, cell.text)
    if cell.link:
        return Markup("<code>{}</code>").format(cell.link)
    return escape(cell.text)
