"""The two AI playbooks end to end: the local LLM host out of GPU memory (against a
stand-in Ollama-style model server and a fake nvidia-smi), and the model provider
outage (against a stand-in gateway with two stand-in providers). Drills inject the
fault; the assertions are on what the stand-ins recorded."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fakes.ai_gateway import Gateway, running_gateway
from http_fixtures import Origin, Reply
from localstack_fixtures import LocalStack
from sli_helpers import events, run_cli
from test_playbooks_e2e import REPO, drill, inject, outcome, run

GPU = REPO / "playbooks/llm/gpu-out-of-memory.yaml"
PROVIDER = REPO / "playbooks/provider/model-provider-outage.yaml"
TOKEN = "gw-admin-7c1d-canary"


def _since(host: Any, mark: int) -> list[dict[str, Any]]:
    return [e for e in host.events[mark:] if e["op"] in ("load", "unload", "ps")]


def test_gpu_drill_then_unload_verify_and_load_one_model(model_host: Any) -> None:
    url = model_host.url
    inject(GPU, f"model_server={url}", "model=llama3.1:8b")
    assert sorted(model_host.resident) == ["llama3.1:70b"]
    mark = len(model_host.events)
    code, output, run_id = run(GPU, f"model_server={url}", "model=llama3.1:8b")
    assert code == 0 and outcome(run_id) == "recovered", output
    assert sorted(model_host.resident) == ["llama3.1:8b"]
    seen = _since(model_host, mark)
    ops = [(e["op"], e.get("model")) for e in seen if e["op"] != "ps"]
    assert ops == [("unload", "llama3.1:70b"), ("load", "llama3.1:8b")]
    load_at = next(i for i, e in enumerate(seen) if e["op"] == "load")
    assert any(e["op"] == "ps" and e["resident"] == [] for e in seen[:load_at]), "verified empty"
    assert model_host.max_in_flight == 1


def test_gpu_held_by_another_process_stops_before_any_load(model_host: Any) -> None:
    url = model_host.url
    model_host.resident.clear()
    model_host.other_process_mib = 20000
    mark = len(model_host.events)
    code, output, run_id = run(GPU, f"model_server={url}", "model=llama3.1:8b")
    assert code == 1 and outcome(run_id) == "failed", output
    failed = next(
        e
        for e in events(run_id)
        if e["kind"] == "step_result" and e["step_id"] == "verify_gpu_free"
    )
    assert failed["data"]["status"] == "failed" and "python3" in failed["data"]["output"]
    assert not any(e["op"] == "load" for e in model_host.events[mark:])


def test_the_llm_playbook_plan_loads_nothing(model_host: Any) -> None:
    mark = len(model_host.events)
    done = run_cli("plan", str(GPU), "-i", f"model_server={model_host.url}", "-i", "model=x")
    assert done.returncode == 0, done.stderr
    assert f"POST {model_host.url}/api/generate" in done.stdout
    assert model_host.events[mark:] == []


@pytest.fixture
def gateway(
    monkeypatch: pytest.MonkeyPatch, fake_minikube: LocalStack
) -> Iterator[tuple[Gateway, str, Any]]:
    monkeypatch.setenv("GATEWAY_ADMIN_TOKEN", TOKEN)
    with running_gateway(TOKEN) as started:
        yield started


def test_provider_outage_switches_to_the_fallback_and_rolls_back(
    gateway: tuple[Gateway, str, Any],
) -> None:
    gw, url, _ = gateway
    primary_url = gw.providers["primary"]
    inject(PROVIDER, f"gateway={url}")
    assert gw.providers["primary"] == "http://127.0.0.1:9" and gw.route == "primary"
    code, output, run_id = run(PROVIDER, f"gateway={url}")
    assert code == 0 and outcome(run_id) == "recovered", output
    assert gw.route == "fallback"
    puts = [a for a in gw.admin if a["method"] == "PUT"]
    assert all(a["authorized"] for a in puts)
    assert puts[-1]["body"]["provider"] == "fallback"
    shown = run_cli("show", run_id, "--output", "json")
    assert TOKEN not in output + shown.stdout
    back = run_cli("rollback", run_id, "--yes")
    assert back.returncode == 0, back.stdout + back.stderr
    assert gw.route == "primary"
    gw.providers["primary"] = primary_url


def test_provider_outage_does_not_switch_into_a_second_outage(
    gateway: tuple[Gateway, str, Any],
) -> None:
    gw, url, upstreams = gateway
    upstreams["primary"].down = True
    upstreams["fallback"].down = True
    code, output, run_id = run(PROVIDER, f"gateway={url}")
    assert code == 1 and outcome(run_id) == "failed", output
    assert gw.route == "primary"
    assert not [a for a in gw.admin if a["method"] == "PUT"]


def test_provider_drill_revert_puts_everything_back(gateway: tuple[Gateway, str, Any]) -> None:
    gw, url, _ = gateway
    primary_url = gw.providers["primary"]
    inject(PROVIDER, f"gateway={url}", f"primary_base_url={primary_url}")
    code, output, _ = run(PROVIDER, f"gateway={url}")
    assert code == 0, output
    drill("revert", PROVIDER, f"gateway={url}", f"primary_base_url={primary_url}")
    assert gw.providers["primary"] == primary_url and gw.route == "primary"


PROVIDER_PATHS = (
    "/admin/route",
    "/admin/providers/primary/health",
    "/admin/providers/fallback/health",
    "/health/completions",
)


def test_provider_outage_fails_when_the_gateway_redirects_its_switch(
    gateway: tuple[Gateway, str, Any], http_origin: Origin
) -> None:
    # A front (a load balancer, or whoever holds the old address) answers 302 to the gateway:
    # its reads may follow, but the PUT that switches the route must not become a GET that
    # reads the route and calls the switch done.
    gw, url, upstreams = gateway
    upstreams["primary"].down = True
    for path in PROVIDER_PATHS:
        http_origin.routes[path] = Reply(302, f"{url}{path}")
    code, output, run_id = run(PROVIDER, f"gateway={http_origin.url}")
    assert code == 1 and outcome(run_id) == "failed", output
    assert f"the server redirected PUT {http_origin.url}/admin/route to {url}/admin/route" in output
    assert gw.route == "primary" and not [a for a in gw.admin if a["method"] == "PUT"]
    assert TOKEN in repr(http_origin.received)  # the PUT went to the address it was given
    assert TOKEN not in output + run_cli("show", run_id, "--output", "json").stdout
