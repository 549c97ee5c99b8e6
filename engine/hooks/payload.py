"""Alertmanager's webhook body (`version: "4"`), decoded and checked in one pass.

The body is untrusted: `decode_notification` either returns a `Notification` whose
every field has its type and form, or raises `PayloadError` with a short message that
names the field and never repeats the input (a reply or a log line can carry it).
Fields newer Alertmanagers add (`notification_reason`, `routeLabels`…) are skipped.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import msgspec
from msgspec import Struct, structs

__all__ = ["AlertPayload", "Notification", "PayloadError", "decode_notification"]

VERSION = "4"
STATUSES = frozenset({"firing", "resolved"})
# Alertmanager's fingerprint is 16 hex digits (`%016x`); a longer one is refused, it is
# a key of the ledger.
_FINGERPRINT = re.compile(r"[0-9a-fA-F]{1,64}")
# RFC 3339's date-time (section 5.6), as Go writes and reads it: seconds 00-59, an
# optional fraction (Go keeps nanoseconds: digits past the ninth are dropped, as Go
# drops them), and Z or a numeric offset.
_RFC3339 = re.compile(
    r"([0-9]{4}-[0-9]{2}-[0-9]{2})[Tt]([0-9]{2}:[0-9]{2}:[0-9]{2})(?:\.([0-9]+))?"
    r"(?:[Zz]|([+-])([0-9]{2}):([0-9]{2}))"
)
_NOT_RFC3339 = "not an RFC 3339 time with a time zone, e.g. 2026-01-02T03:04:05.678Z"
_MESSAGE_LIMIT = 200
_TRUNCATED = {"Input data was truncated": "JSON is malformed: the body ends too early"}


class PayloadError(ValueError):
    """A body that is not an Alertmanager notification: what is wrong, and where."""


class AlertPayload(Struct, frozen=True):
    """One alert of a notification. A firing alert's `endsAt` is `0001-01-01T00:00:00Z`."""

    status: str
    labels: dict[str, str]
    annotations: dict[str, str]
    startsAt: str
    endsAt: str
    generatorURL: str
    fingerprint: str

    @property
    def firing(self) -> bool:
        return self.status == "firing"


class Notification(Struct, frozen=True):
    """What Alertmanager posts to a webhook receiver: a group of alerts. Every field is
    one Alertmanager 0.22 and later always sends."""

    version: str
    groupKey: str
    truncatedAlerts: int
    status: str
    receiver: str
    groupLabels: dict[str, str]
    commonLabels: dict[str, str]
    commonAnnotations: dict[str, str]
    externalURL: str
    alerts: list[AlertPayload]


_DECODER = msgspec.json.Decoder(Notification)


def decode_notification(body: bytes) -> Notification:
    """The notification in `body`; PayloadError when it is not one we can act on."""
    if not body:
        raise PayloadError("the body is empty: expected an Alertmanager notification (JSON)")
    try:
        notification = _DECODER.decode(body)
    except msgspec.DecodeError as exc:  # ValidationError is a DecodeError
        message = str(exc)
        raise PayloadError(_short(_TRUNCATED.get(message, message))) from None
    except RecursionError:  # arrays in arrays, deeper than the decoder goes
        raise PayloadError("JSON is malformed: nested too deeply") from None
    _check(notification)
    return _canonical(notification)


def _check(notification: Notification) -> None:
    """The rules the types cannot state: the version, the statuses, counts and forms."""
    if notification.version != VERSION:
        message = f'this version is not supported: Alertmanager\'s webhook format is "{VERSION}"'
        raise PayloadError(f"{message} - at `$.version`")
    _check_status(notification.status, "$.status")
    if notification.truncatedAlerts < 0:
        raise PayloadError("truncatedAlerts is negative - at `$.truncatedAlerts`")
    for index, alert in enumerate(notification.alerts):
        _check_alert(alert, f"$.alerts[{index}]")


def _check_alert(alert: AlertPayload, where: str) -> None:
    _check_status(alert.status, f"{where}.status")
    if not alert.fingerprint:
        raise PayloadError(f"the fingerprint is empty - at `{where}.fingerprint`")
    if not _FINGERPRINT.fullmatch(alert.fingerprint):
        message = "the fingerprint is not at most 64 hexadecimal digits"
        raise PayloadError(f"{message} - at `{where}.fingerprint`")
    for name in ("startsAt", "endsAt"):
        if canonical_time(getattr(alert, name)) is None:
            raise PayloadError(f"{_NOT_RFC3339} - at `{where}.{name}`")


def canonical_time(text: str) -> str | None:
    """An RFC 3339 time as Go's RFC3339Nano writes it in UTC (`2026-12-07T09:00:00.5Z`:
    no trailing zeros in the fraction, none at all for whole seconds), so that one
    instant has one spelling whatever offset or precision it came with; None when
    `text` is not an RFC 3339 time with a time zone."""
    match = _RFC3339.fullmatch(text)
    if match is None:
        return None
    day, clock, fraction, sign, hours, minutes = match.groups()
    try:
        local = datetime.fromisoformat(f"{day}T{clock}")
        offset = timedelta(hours=int(hours or 0), minutes=int(minutes or 0))
        if offset >= timedelta(hours=24) or int(minutes or 0) > 59:
            return None
        utc = local - offset if sign == "+" else local + offset
    except (ValueError, OverflowError):  # no such date, hour or minute; before year 1
        return None
    digits = (fraction or "")[:9].rstrip("0")
    whole = f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T{utc:%H:%M:%S}"
    return whole + (f".{digits}" if digits else "") + "Z"


def _canonical(notification: Notification) -> Notification:
    """The notification with each alert's times in their one canonical spelling (the
    inbox compares them as text: dedup, resolved before run)."""
    alerts = [
        structs.replace(
            alert,
            startsAt=canonical_time(alert.startsAt) or alert.startsAt,
            endsAt=canonical_time(alert.endsAt) or alert.endsAt,
        )
        for alert in notification.alerts
    ]
    return structs.replace(notification, alerts=alerts)


def _check_status(status: str, where: str) -> None:
    if status not in STATUSES:
        raise PayloadError(f"status is neither firing nor resolved - at `{where}`")


def _short(message: str) -> str:
    """msgspec's message (it names the field and the expected type, not the value),
    cut to a length fit for a reply."""
    return message if len(message) <= _MESSAGE_LIMIT else message[: _MESSAGE_LIMIT - 3] + "..."
