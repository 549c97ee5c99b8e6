"""What a real Alertmanager 0.25 sends to a webhook, and when it sends it again: the facts
the alert receiver is built on, checked against a receiver that records every POST and
answers the statuses it is told to."""

from __future__ import annotations

import base64
import datetime
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from alertmanager_fixtures import StartAlertmanager
from components import free_port
from http_fixtures import Origin, Reply

pytestmark = pytest.mark.integration

TOKEN = "am-test-token-5f1c"
NEVER = "0001-01-01T00:00:00Z"  # the endsAt of a firing alert
DELIVERY_TIMEOUT = 15.0  # seconds; a first delivery takes milliseconds on an idle machine


@dataclass(frozen=True)
class Delivery:
    at: float  # time.monotonic() when it arrived
    path: str
    headers: dict[str, str]
    payload: dict[str, Any]

    @property
    def alert(self) -> dict[str, Any]:
        (only,) = self.payload["alerts"]
        return only  # type: ignore[no-any-return]


@dataclass
class Receiver:
    """Records each POST; answers `replies` in order, the last one for every later POST."""

    port: int
    replies: list[int] = field(default_factory=lambda: [200])
    deliveries: list[Delivery] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/alertmanager"

    def record(self, delivery: Delivery) -> int:
        with self.arrived:
            self.deliveries.append(delivery)
            self.arrived.notify_all()
            return self.replies[min(len(self.deliveries), len(self.replies)) - 1]

    def wait_for(self, count: int, timeout: float = DELIVERY_TIMEOUT) -> list[Delivery]:
        with self.arrived:
            if not self.arrived.wait_for(lambda: len(self.deliveries) >= count, timeout):
                raise AssertionError(
                    f"{len(self.deliveries)} deliveries in {timeout} s, not {count}"
                )
            return list(self.deliveries)

    def quiet_for(self, seconds: float) -> list[Delivery]:
        """The deliveries after `seconds` more, however many arrive."""
        time.sleep(seconds)
        with self.arrived:
            return list(self.deliveries)


class _Handler(BaseHTTPRequestHandler):
    receiver: Receiver
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        arrived = time.monotonic()
        body = self.rfile.read(int(self.headers["Content-Length"]))
        delivery = Delivery(arrived, self.path, dict(self.headers), json.loads(body))
        status = self.receiver.record(delivery)
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        return  # Alertmanager closing its kept-alive connection when it stops


def serve(receiver: Receiver) -> ThreadingHTTPServer:
    handler = type("Handler", (_Handler,), {"receiver": receiver})
    server = _Server(("127.0.0.1", receiver.port), handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server


def close(server: ThreadingHTTPServer) -> None:
    server.shutdown()
    server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    listening = Receiver(free_port())
    server = serve(listening)
    yield listening
    close(server)


def test_a_fired_alert_arrives_once_as_a_version_4_payload_with_the_bearer_token(
    alertmanager: StartAlertmanager, receiver: Receiver
) -> None:
    manager = alertmanager(receiver.url, token=TOKEN)
    fired = manager.fire("DiskFull", {"instance": "db-1"}, {"summary": "97% used"})
    (delivery,) = receiver.wait_for(1)
    assert delivery.path == "/hooks/alertmanager"
    assert delivery.headers["Authorization"] == f"Bearer {TOKEN}"
    assert delivery.headers["Content-Type"] == "application/json"
    assert delivery.headers["User-Agent"].startswith("Alertmanager/")
    payload = delivery.payload
    assert payload["version"] == "4"
    assert payload["status"] == "firing"
    assert payload["receiver"] == "webhook"
    assert payload["groupKey"] == '{}:{alertname="DiskFull"}'
    assert payload["groupLabels"] == {"alertname": "DiskFull"}
    assert payload["truncatedAlerts"] == 0
    assert payload["externalURL"] == manager.url
    alert = delivery.alert
    assert alert["status"] == "firing"
    assert alert["labels"] == {"alertname": "DiskFull", "instance": "db-1"}
    assert alert["annotations"] == {"summary": "97% used"}
    assert alert["endsAt"] == NEVER
    assert _same_instant(alert["startsAt"], fired["startsAt"])
    assert alert["fingerprint"] == manager.alerts()[0]["fingerprint"]
    assert alert["generatorURL"] == fired["generatorURL"]
    manager.fire("DiskFull", {"instance": "db-1"})  # Prometheus re-sends every evaluation
    assert len(receiver.quiet_for(0.5)) == 1


def test_basic_auth_arrives_as_an_authorization_header(
    alertmanager: StartAlertmanager, receiver: Receiver
) -> None:
    alertmanager(receiver.url, basic_auth=("alertmanager", "pa:ss")).fire("DiskFull")
    (delivery,) = receiver.wait_for(1)
    expected = base64.b64encode(b"alertmanager:pa:ss").decode()
    assert delivery.headers["Authorization"] == f"Basic {expected}"


def test_a_5xx_reply_is_retried_with_the_same_alert_within_the_group_interval(
    alertmanager: StartAlertmanager, receiver: Receiver
) -> None:
    receiver.replies = [503, 500, 200]
    manager = alertmanager(receiver.url, group_interval="1m")  # a resend would wait a minute
    manager.fire("DiskFull", {"instance": "db-1"})
    first, second, third = receiver.wait_for(3)
    assert third.at - first.at < 10  # retries, not the next flush
    assert first.payload == second.payload == third.payload
    assert manager.webhook_metric("alertmanager_notification_requests_failed_total") == 2


def test_a_4xx_reply_is_not_retried_and_is_sent_again_at_the_next_group_interval(
    alertmanager: StartAlertmanager, receiver: Receiver
) -> None:
    receiver.replies = [401, 200]
    manager = alertmanager(receiver.url, group_interval="1500ms")
    manager.fire("DiskFull", {"instance": "db-1"})
    receiver.wait_for(1)
    assert len(receiver.quiet_for(1.0)) == 1  # a 5xx is retried after 0.25 to 0.75 s
    first, second = receiver.wait_for(2)
    assert second.at - first.at > 1.0  # the next flush, not a retry
    assert first.payload == second.payload


def test_a_webhook_that_is_down_gets_the_alert_when_it_comes_back(
    alertmanager: StartAlertmanager,
) -> None:
    receiver = Receiver(free_port())
    manager = alertmanager(receiver.url, group_interval="1m")
    manager.fire("DiskFull", {"instance": "db-1"})
    deadline = time.monotonic() + DELIVERY_TIMEOUT
    while manager.webhook_metric("alertmanager_notification_requests_failed_total") < 1:
        assert time.monotonic() < deadline, "no attempt was refused"
        time.sleep(0.05)
    server = serve(receiver)
    try:
        (delivery,) = receiver.wait_for(1)
        assert delivery.alert["labels"]["instance"] == "db-1"
    finally:
        close(server)


def test_a_repeat_carries_the_same_fingerprint_and_start(
    alertmanager: StartAlertmanager, receiver: Receiver
) -> None:
    manager = alertmanager(receiver.url, group_interval="200ms", repeat_interval="200ms")
    manager.fire("DiskFull", {"instance": "db-1"})
    first, second = receiver.wait_for(2)
    assert first.payload["groupKey"] == second.payload["groupKey"]
    assert first.alert["fingerprint"] == second.alert["fingerprint"]
    assert first.alert["startsAt"] == second.alert["startsAt"]


def test_resolving_sends_a_resolved_notification_for_the_same_alert(
    alertmanager: StartAlertmanager, receiver: Receiver
) -> None:
    manager = alertmanager(receiver.url, token=TOKEN)
    manager.fire("DiskFull", {"instance": "db-1"})
    receiver.wait_for(1)
    resolved = manager.resolve("DiskFull", {"instance": "db-1"})
    firing, resolving = receiver.wait_for(2)
    assert resolving.payload["status"] == "resolved"
    assert resolving.payload["groupKey"] == firing.payload["groupKey"]
    assert resolving.alert["status"] == "resolved"
    assert resolving.alert["fingerprint"] == firing.alert["fingerprint"]
    assert resolving.alert["startsAt"] == firing.alert["startsAt"]
    assert _same_instant(resolving.alert["endsAt"], resolved["endsAt"])
    assert resolving.headers["Authorization"] == f"Bearer {TOKEN}"


def test_firing_again_after_resolving_is_a_new_start_of_the_same_alert(
    alertmanager: StartAlertmanager, receiver: Receiver
) -> None:
    manager = alertmanager(receiver.url)
    manager.fire("DiskFull", {"instance": "db-1"})
    receiver.wait_for(1)
    manager.resolve("DiskFull", {"instance": "db-1"})
    receiver.wait_for(2)
    manager.fire("DiskFull", {"instance": "db-1"})
    first, _, again = receiver.wait_for(3)
    assert again.payload["status"] == "firing"
    assert again.alert["fingerprint"] == first.alert["fingerprint"]
    assert again.alert["startsAt"] > first.alert["startsAt"]


def test_without_send_resolved_resolving_sends_nothing(
    alertmanager: StartAlertmanager, receiver: Receiver
) -> None:
    manager = alertmanager(receiver.url, send_resolved=False)
    manager.fire("DiskFull", {"instance": "db-1"})
    receiver.wait_for(1)
    manager.resolve("DiskFull", {"instance": "db-1"})
    assert len(receiver.quiet_for(0.5)) == 1  # five group intervals


def _same_instant(received: str, sent: str) -> bool:
    return _instant(received) == _instant(sent)


def _instant(text: str) -> float:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def test_an_https_webhook_is_reached_with_the_ca_file_it_is_given(
    alertmanager: StartAlertmanager,
    https_origin: Origin,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SSL_CERT_FILE")  # Go trusts it too: only ca_file may do it here
    https_origin.routes["/hooks/alertmanager"] = Reply(200)
    manager = alertmanager(
        f"{https_origin.url}/hooks/alertmanager", token=TOKEN, ca_file=tmp_path / "origin.crt"
    )
    manager.fire("DiskFull", {"instance": "db-1"})
    deadline = time.monotonic() + DELIVERY_TIMEOUT
    while not https_origin.received and time.monotonic() < deadline:
        time.sleep(0.01)
    assert https_origin.received, f"nothing reached the https webhook: {manager.log.read_text()}"
    (request,) = https_origin.received
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert json.loads(request.body)["alerts"][0]["labels"]["instance"] == "db-1"
