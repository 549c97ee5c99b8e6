"""Faults a real kube-apiserver will not produce on demand, over HTTP against a fake of
the REST API (tests/fake_kube_api.py): 500s, a server that never answers, a 409 on
every write, a watch that expires. Each fails within its deadline with an error that
names the verb, the object and the HTTP status."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_kube_api import FakeKubeApi
from kube_fixtures import deployment, kubectl, step_context

from engine.core.results import Status
from engine.steps import kubectl as step

WEB = "/apis/apps/v1/namespaces/shop/deployments/web"
SCALE = r"/deployments/web/scale$"


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[tuple[FakeKubeApi, Path]]:
    api = FakeKubeApi().start()
    obj = deployment(replicas=2)
    obj["metadata"]["namespace"] = "shop"
    api.add(WEB, obj)
    yield api, api.write_kubeconfig(tmp_path / "kubeconfig")
    api.stop()


def scale(replicas: int = 0, **extra: Any) -> Any:
    body = {"action": "scale", "namespace": "shop", "kind": "Deployment", "name": "web"}
    return kubectl({**body, "replicas": replicas, **extra})


def test_500s_are_retried_with_backoff_then_the_scale_succeeds(fake: Any) -> None:
    api, kubeconfig = fake
    api.fault("PUT", SCALE, status=500, count=2)

    result = step.apply(scale(0), step_context(kubeconfig))

    assert result.status is Status.SUCCEEDED, result.message
    assert api.count("PUT", SCALE) == 3
    assert api.get(WEB)["spec"]["replicas"] == 0
    assert result.captured["replicas"] == 2


def test_500s_that_persist_fail_with_the_verb_object_and_status(fake: Any) -> None:
    api, kubeconfig = fake
    api.fault("PUT", SCALE, status=500, count=None)
    started = time.monotonic()

    result = step.apply(scale(0), step_context(kubeconfig))

    assert result.status is Status.FAILED
    assert "scale Deployment shop/web: HTTP 500" in result.message
    assert "injected fault (after 4 attempts)" in result.message
    assert api.count("PUT", SCALE) == 4
    assert time.monotonic() - started < 5
    assert api.get(WEB)["spec"]["replicas"] == 2
    assert result.captured["replicas"] == 2  # captured before the change: an undo knows


def test_a_hanging_api_server_fails_within_the_step_deadline(fake: Any) -> None:
    api, kubeconfig = fake
    api.fault("GET", SCALE, hang=True, count=None)
    started = time.monotonic()

    result = step.apply(scale(0), step_context(kubeconfig, timeout=2))

    took = time.monotonic() - started
    assert result.status is Status.TIMED_OUT
    assert "get Deployment shop/web: no HTTP status: no answer within" in result.message
    assert "outcome is unknown" in result.message
    assert 1.5 < took < 4


def test_a_wait_on_a_hanging_watch_ends_at_its_own_timeout(fake: Any) -> None:
    api, kubeconfig = fake
    api.fault("GET", r"/deployments$", hang=True, count=None)
    body = {"action": "wait", "namespace": "shop", "kind": "Deployment", "name": "web"}
    started = time.monotonic()

    result = step.apply(kubectl({**body, "condition": "Available", "timeout": "1s"}),
                        step_context(kubeconfig, timeout=60))  # fmt: skip

    assert result.status is Status.TIMED_OUT
    assert time.monotonic() - started < 3


def test_repeated_409_gives_up_after_a_bounded_number_of_re_reads(fake: Any) -> None:
    api, kubeconfig = fake
    api.fault("PUT", SCALE, status=409, count=None)

    result = step.apply(scale(0), step_context(kubeconfig))

    assert result.status is Status.FAILED
    assert "scale Deployment shop/web: HTTP 409: still conflicting after 5 re-reads" in (
        result.message
    )
    assert api.count("GET", SCALE) == 5  # every attempt re-read before it re-applied
    assert api.count("PUT", SCALE) == 5
    assert api.get(WEB)["spec"]["replicas"] == 2


def test_a_409_is_re_read_and_re_applied(fake: Any) -> None:
    api, kubeconfig = fake
    api.fault("PUT", SCALE, status=409, count=2)

    result = step.apply(scale(1), step_context(kubeconfig))

    assert result.status is Status.SUCCEEDED, result.message
    assert api.count("GET", SCALE) == 3
    assert api.get(WEB)["spec"]["replicas"] == 1


def test_an_unreachable_api_server_fails_quickly_naming_the_host(tmp_path: Path) -> None:
    api = FakeKubeApi().start()
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
    api.stop()
    started = time.monotonic()

    result = step.apply(scale(0), step_context(kubeconfig))

    assert result.status is Status.FAILED
    assert f"cannot connect to {api.url}" in result.message
    assert time.monotonic() - started < 5


def test_a_watch_that_gets_410_gone_re_lists(fake: Any) -> None:
    api, kubeconfig = fake
    api.expire_watches = 1
    body = {"action": "wait", "namespace": "shop", "kind": "Deployment", "name": "web"}

    def become_available() -> None:
        time.sleep(0.5)
        obj = api.get(WEB)
        obj["status"] = {"conditions": [{"type": "Available", "status": "True"}]}
        api.add(WEB, obj)

    threading.Thread(target=become_available).start()
    result = step.apply(kubectl({**body, "condition": "Available", "timeout": "10s"}),
                        step_context(kubeconfig))  # fmt: skip

    assert result.status is Status.SUCCEEDED, result.message
    assert api.count("GET", r"/namespaces/shop/deployments$") >= 3  # list, watch, re-list…


def test_logs_capture_the_tail(fake: Any) -> None:
    api, kubeconfig = fake
    api.add("/api/v1/namespaces/shop/pods/web-1", {"kind": "Pod"})
    api.logs["/api/v1/namespaces/shop/pods/web-1"] = "line 1\nline 2\n"
    body = {"action": "logs", "namespace": "shop", "name": "web-1", "tail_lines": 2}

    result = step.apply(kubectl(body), step_context(kubeconfig))

    assert result.status is Status.SUCCEEDED, result.message
    assert result.value == "line 1\nline 2\n"
    assert ("GET", "/api/v1/namespaces/shop/pods/web-1/log") in api.requests


def test_an_undo_refuses_a_context_that_now_points_at_another_cluster(fake: Any) -> None:
    api, kubeconfig = fake
    done = step.apply(scale(0), step_context(kubeconfig))
    assert done.ok, done.message
    moved = {**done.captured, "cluster_uid": "uid-of-the-cluster-the-step-changed"}

    undone = step.undo(scale(0), moved, step_context(kubeconfig))

    assert undone.status is Status.FAILED
    assert "not the pinned cluster_uid uid-of-the-cluster-the-step-changed" in undone.message
    assert api.get(WEB)["spec"]["replicas"] == 0


def test_an_invalid_name_is_refused_before_any_request(fake: Any) -> None:
    api, kubeconfig = fake
    before = len(api.requests)
    body = {"action": "scale", "namespace": "shop", "kind": "Deployment"}

    result = step.apply(kubectl({**body, "name": "../../nodes/x", "replicas": 0}),
                        step_context(kubeconfig))  # fmt: skip

    assert result.status is Status.FAILED
    assert "is not a valid Kubernetes name" in result.message
    assert len(api.requests) == before
