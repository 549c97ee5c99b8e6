"""Alertmanager's webhook body: real payloads decode, anything else is a PayloadError.

`payloads/firing.json` and `payloads/resolved.json` are bodies Alertmanager 0.25 posted
to a webhook receiver.
"""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.hooks.payload import AlertPayload, Notification, PayloadError, decode_notification

PAYLOADS = Path(__file__).parent / "payloads"
FIRING = (PAYLOADS / "firing.json").read_bytes()
RESOLVED = (PAYLOADS / "resolved.json").read_bytes()


def body(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(FIRING)
    data.update(changes)
    return data


def with_alert(**changes: Any) -> bytes:
    data = body()
    data["alerts"][0].update(changes)
    return json.dumps(data).encode()


def without_alert_field(name: str) -> bytes:
    data = body()
    del data["alerts"][0][name]
    return json.dumps(data).encode()


def refusal(raw: bytes) -> str:
    with pytest.raises(PayloadError) as caught:
        decode_notification(raw)
    assert isinstance(caught.value, ValueError)
    return str(caught.value)


def test_a_real_firing_notification_decodes_whole() -> None:
    notification = decode_notification(FIRING)
    assert isinstance(notification, Notification)
    assert (notification.version, notification.status) == ("4", "firing")
    assert notification.receiver == "runbook-engine"
    assert notification.groupKey == '{}:{alertname="RunbookTestValueHigh"}'
    assert notification.truncatedAlerts == 0
    assert notification.groupLabels == {"alertname": "RunbookTestValueHigh"}
    assert notification.commonLabels["severity"] == "page"
    assert notification.commonAnnotations["runbook_url"].startswith("https://")
    assert notification.externalURL == "http://127.0.0.1:19093"
    (alert,) = notification.alerts
    assert isinstance(alert, AlertPayload)
    assert alert.firing
    assert alert.labels["alertname"] == "RunbookTestValueHigh"
    assert alert.labels["instance"] == "host-0-1795354999"
    assert alert.annotations["summary"] == "runbook_test_value is 42 on host-0-1795354999"
    assert alert.startsAt == "2026-11-22T13:43:22.296Z"
    assert alert.endsAt == "0001-01-01T00:00:00Z"
    assert alert.generatorURL.startswith("http://127.0.0.1:19090/graph?")
    assert alert.fingerprint == "60144226ae7f262b"


def test_a_real_resolved_notification_decodes_with_its_end() -> None:
    notification = decode_notification(RESOLVED)
    assert notification.status == "resolved"
    (alert,) = notification.alerts
    assert not alert.firing
    assert alert.endsAt == "2026-11-22T13:43:24.296Z"
    assert alert.fingerprint == "60144226ae7f262b"


def test_fields_of_newer_alertmanagers_are_tolerated() -> None:
    newer = body(notification_reason="repeat", routeLabels={"team": "sre"}, extra=[{"a": 1}])
    newer["alerts"][0]["silencedBy"] = []
    assert decode_notification(json.dumps(newer).encode()).alerts[0].labels


def test_times_in_any_rfc3339_form_are_taken_in_utc() -> None:
    taken = {
        "2026-11-22T13:43:22Z": "2026-11-22T13:43:22Z",
        "2026-11-22T15:43:22.123456789+02:00": "2026-11-22T13:43:22.123456789Z",
    }
    for stamp, canonical in taken.items():
        assert decode_notification(with_alert(startsAt=stamp)).alerts[0].startsAt == canonical


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "the body is empty"),
        (b"{", "JSON is malformed: the body ends too early"),
        (b"not json", "malformed"),
        (b"\xff\xfe{}", "malformed"),
        (b"[]", "Expected `object`, got `array`"),
        (b"{}", "missing required field"),
        (json.dumps(body(version="5")).encode(), 'webhook format is "4" - at `$.version`'),
        (json.dumps(body(version=4)).encode(), "Expected `str`, got `int` - at `$.version`"),
        (json.dumps(body(status="bogus")).encode(), "status is neither firing nor resolved"),
        (json.dumps(body(alerts={})).encode(), "Expected `array`, got `object` - at `$.alerts`"),
        (json.dumps(body(truncatedAlerts="0")).encode(), "at `$.truncatedAlerts`"),
        (json.dumps(body(truncatedAlerts=-1)).encode(), "at `$.truncatedAlerts`"),
        (with_alert(fingerprint=""), "fingerprint is empty - at `$.alerts[0].fingerprint`"),
        (with_alert(fingerprint="zz"), "at `$.alerts[0].fingerprint`"),
        (with_alert(fingerprint="a" * 65), "at `$.alerts[0].fingerprint`"),
        (with_alert(status="pending"), "at `$.alerts[0].status`"),
        (with_alert(startsAt="yesterday"), "not an RFC 3339 time"),
        (with_alert(startsAt="2026-11-22T13:43:22"), "at `$.alerts[0].startsAt`"),
        (with_alert(startsAt="2026-13-22T13:43:22Z"), "at `$.alerts[0].startsAt`"),
        (with_alert(endsAt=""), "at `$.alerts[0].endsAt`"),
        (with_alert(labels={"severity": 5}), "Expected `str`, got `int`"),
        (with_alert(labels=None), "at `$.alerts[0].labels`"),
        (with_alert(annotations=["a"]), "at `$.alerts[0].annotations`"),
        (without_alert_field("fingerprint"), "`fingerprint`"),
        (without_alert_field("startsAt"), "`startsAt`"),
        (without_alert_field("labels"), "`labels`"),
        (without_alert_field("annotations"), "`annotations`"),
        (without_alert_field("generatorURL"), "`generatorURL`"),
        (json.dumps({k: v for k, v in body().items() if k != "groupKey"}).encode(), "`groupKey`"),
    ],
    ids=lambda value: value if isinstance(value, str) else "body",
)
def test_a_malformed_body_is_refused_naming_the_field(raw: bytes, message: str) -> None:
    assert message in refusal(raw)


@pytest.mark.parametrize(
    "written",
    [
        "2026-12-07T10:00:00Z",
        "2026-12-07T10:00:00.000Z",
        "2026-12-07T10:00:00.000000000Z",
        "2026-12-07T10:00:00+00:00",
        "2026-12-07T10:00:00-00:00",
        "2026-12-07T11:00:00+01:00",
        "2026-12-07T05:30:00-04:30",
        "2026-12-08T00:00:00+14:00",
        "2026-12-07t10:00:00z",
    ],
)
def test_one_instant_decodes_to_one_spelling_whatever_its_offset_or_precision(
    written: str,
) -> None:
    (alert,) = decode_notification(with_alert(startsAt=written, endsAt=written)).alerts
    assert alert.startsAt == alert.endsAt == "2026-12-07T10:00:00Z"


def test_fractions_keep_the_nanoseconds_that_tell_two_firings_apart() -> None:
    def starts(written: str) -> str:
        return decode_notification(with_alert(startsAt=written)).alerts[0].startsAt

    assert starts("2026-12-07T10:00:00.000000001Z") == "2026-12-07T10:00:00.000000001Z"
    assert starts("2026-12-07T11:00:00.1234567+01:00") == "2026-12-07T10:00:00.1234567Z"
    assert starts("2026-12-07T10:00:00.120Z") == starts("2026-12-07T10:00:00.12Z")
    assert starts("2026-12-07T10:00:00.000000001Z") != starts("2026-12-07T10:00:00.000000002Z")
    # past the ninth digit Go keeps nothing, and neither do we
    assert starts("2026-12-07T10:00:00.0000000019Z") == "2026-12-07T10:00:00.000000001Z"
    assert decode_notification(FIRING).alerts[0].endsAt == "0001-01-01T00:00:00Z"


@pytest.mark.parametrize(
    "written",
    [
        "2026-12-07 10:00:00Z",
        "2026-12-07T10:00:00+0100",
        "2026-12-07T10:00:00+01",
        "2026-12-07T10:00Z",
        "2026-12-07T10:00:00.Z",
        "2026-12-07T10:00:60Z",
        "2026-02-30T10:00:00Z",
        "2026-12-07T10:00:00+24:00",
        "2026-12-07T10:00:00+01:60",
        "0001-01-01T00:30:00+01:00",
        "9999-12-31T23:30:00-01:00",
        "\uff12026-12-07T10:00:00Z",
    ],
)
def test_a_time_that_is_not_rfc_3339_is_refused(written: str) -> None:
    assert "not an RFC 3339 time" in refusal(with_alert(startsAt=written))
    assert "at `$.alerts[0].endsAt`" in refusal(with_alert(endsAt=written))


def test_a_refusal_never_repeats_a_large_input() -> None:
    canary = "CANARY" * 2000
    attempts = [
        json.dumps(body(version=canary)).encode(),
        json.dumps(body(status=canary)).encode(),
        with_alert(status=canary),
        with_alert(fingerprint=canary),
        with_alert(startsAt=canary),
        with_alert(labels={canary: 1}),
        with_alert(labels={"x": {canary: canary}}),
        json.dumps(body(receiver=[canary])).encode(),
        canary.encode(),
        b'{"version": "' + canary.encode(),
    ]
    for raw in attempts:
        message = refusal(raw)
        assert len(message) <= 200
        assert "CANARYCANARY" not in message


def test_a_deeply_nested_unknown_field_is_refused_or_skipped_quickly() -> None:
    data = json.dumps(body()).encode()
    deep = data[:-1] + b', "deep": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    started = time.perf_counter()
    with contextlib.suppress(PayloadError):
        decode_notification(deep)
    assert time.perf_counter() - started < 1.0


def test_decoding_a_storm_sized_body_is_fast() -> None:
    data = body()
    data["alerts"] = [dict(data["alerts"][0], fingerprint=f"{i:016x}") for i in range(1000)]
    raw = json.dumps(data).encode()
    started = time.perf_counter()
    assert len(decode_notification(raw).alerts) == 1000
    assert time.perf_counter() - started < 0.25


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=20,
)
FIELDS = ["version", "groupKey", "status", "receiver", "alerts", "truncatedAlerts"]
ALERT_FIELDS = ["status", "labels", "annotations", "startsAt", "endsAt", "fingerprint"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_arbitrary_bytes_decode_or_raise_payload_error(raw: bytes) -> None:
    with contextlib.suppress(PayloadError):
        decode_notification(raw)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(FIELDS + ALERT_FIELDS),
    st.booleans(),
    JSON,
)
def test_a_real_body_with_one_field_replaced_decodes_or_raises_payload_error(
    name: str, in_alert: bool, value: Any
) -> None:
    data = body()
    if in_alert and name in ALERT_FIELDS:
        data["alerts"][0][name] = value
    else:
        data[name] = value
    try:
        notification = decode_notification(json.dumps(data).encode())
    except PayloadError as exc:
        assert len(str(exc)) <= 200
        return
    assert notification.version == "4"
    assert all(a.fingerprint and a.status in ("firing", "resolved") for a in notification.alerts)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=len(FIRING)), st.binary(max_size=8))
def test_a_real_body_cut_or_spliced_decodes_or_raises_payload_error(at: int, noise: bytes) -> None:
    with contextlib.suppress(PayloadError):
        decode_notification(FIRING[:at] + noise + FIRING[at + len(noise) :])
