"""What `capture:` stores (engine.steps.common.captured_value)."""

from __future__ import annotations

import pytest

from engine.backends.command_result import captured_value


def test_json_output_is_parsed() -> None:
    assert captured_value(' {"ready": 3, "ratio": 0.5}\n') == {"ready": 3, "ratio": 0.5}


@pytest.mark.parametrize("text", ['{"ratio": NaN}', "[Infinity]", '{"low": -Infinity}'])
def test_nan_and_infinity_are_not_json_and_stay_text(text: str) -> None:
    assert captured_value(text + "\n") == text
