"""A scalar the engine accepts means the same to every YAML tool.

For any plain scalar, either `load_source` refuses it (at its position, with a hint),
or the value it reads is the value ruamel.yaml reads under YAML 1.2 (editors,
check-jsonschema) and the value PyYAML reads under YAML 1.1 (older tools).
"""

from __future__ import annotations

import datetime
import math
from typing import Any

import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from engine.core.errors import InvalidPlaybook
from engine.model.yamlsource import load_source

WORDS = [
    "yes", "No", "ON", "off", "y", "N", "true", "False", "null", "~", ".inf", "-.Inf",
    ".nan", "0o17", "0x1F", "0755", "1_000", "1:30", "1e3", "1.5", "+1", "-0", "08",
]  # fmt: skip
SCALARS = st.one_of(
    st.sampled_from(WORDS),
    st.text(alphabet="0123456789+-._:eExXoObBaFyYnNtT", min_size=1, max_size=10),
)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    return type(a) is type(b) and a == b


def _yaml12(text: str) -> Any:
    return YAML(typ="safe", pure=True).load(text)["v"]


@settings(max_examples=400, deadline=None)
@given(SCALARS)
@example("yes")
@example("0755")
@example("2001-12-14")
def test_an_accepted_scalar_reads_the_same_in_yaml_1_1_and_1_2(scalar: str) -> None:
    text = f"v: {scalar}\n"
    try:
        ours = load_source("scalar.yaml", text).data["v"]
    except InvalidPlaybook as exc:
        assert exc.findings[0].location.line == 1
        assert exc.findings[0].hint
        return
    except Exception:  # not YAML at all for every tool (e.g. `v: -`): not this test's
        return
    try:
        old, new = yaml.safe_load(text)["v"], _yaml12(text)
    except Exception:  # a tool that cannot read it does not disagree
        return
    if isinstance(old, datetime.date):  # the engine keeps dates as the text written
        old = scalar
    if isinstance(new, datetime.date):
        new = scalar
    assert _same(ours, new), (scalar, ours, new)
    assert _same(ours, old), (scalar, ours, old)


def test_an_ambiguous_integer_too_long_to_print_is_named_by_its_size() -> None:
    """Python refuses to print an integer of more than 4300 digits: the message about a
    hex number YAML 1.1 and 1.2 read differently says its size instead of crashing."""
    scalar = "-0x" + "1" * 5000
    try:
        load_source("scalar.yaml", f"v: {scalar}\n")
    except InvalidPlaybook as exc:
        finding = exc.findings[0]
        assert finding.location.line == 1
        assert "means an integer of about 6020 digits in YAML 1.1" in finding.message
        assert finding.hint
    else:
        raise AssertionError("an ambiguous scalar was accepted")
