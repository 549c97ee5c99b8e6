"""How the checks read a template without rendering it: the parsing environment (with the
engine's comment markers), and the pattern of a plain `{{ a.b }}` reference."""

from __future__ import annotations

import re
from functools import cache
from typing import TYPE_CHECKING

from engine.templating.render import COMMENT_END, COMMENT_START

if TYPE_CHECKING:
    from jinja2 import Environment

SIMPLE_REFERENCE = re.compile(  # `{{ a.b['c'] | filter }}`
    r"\{\{-?\s*([A-Za-z_]\w*(?:\.\w+|\[\s*'[^'\\]*'\s*\]|\[\s*\"[^\"\\]*\"\s*\])*)"
    r"\s*(?:\|\s*\w+\s*)?-?\}\}"
)


@cache
def parser() -> Environment:
    """The environment that parses (never renders) playbook templates."""
    from jinja2 import Environment

    return Environment(
        autoescape=False,  # noqa: S701 - parses only, renders nothing
        comment_start_string=COMMENT_START,
        comment_end_string=COMMENT_END,
    )
