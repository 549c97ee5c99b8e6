"""How a Prometheus sample's series is named in its detail: as Prometheus writes it, and
not at all for an aggregate (which has no labels: no empty `{}`)."""

from __future__ import annotations

from typing import Any

import pytest

from engine.sli.prometheus import interpret


def _vector(metric: dict[str, str]) -> dict[str, Any]:
    series = {"metric": metric, "value": [1700000000.0, "3"]}
    return {"status": "success", "data": {"resultType": "vector", "result": [series]}}


@pytest.mark.parametrize(
    ("metric", "detail"),
    [
        ({}, ""),
        ({"__name__": "up"}, "up"),
        ({"__name__": "up", "job": "api", "path": 'a"b'}, 'up{job="api", path="a\\"b"}'),
        ({"job": "api"}, '{job="api"}'),
    ],
)
def test_a_series_is_named_as_prometheus_writes_it(metric: dict[str, str], detail: str) -> None:
    reading = interpret(_vector(metric))
    assert (reading.value, reading.detail) == (3.0, detail)
