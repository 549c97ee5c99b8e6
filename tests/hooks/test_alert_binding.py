"""An alert gives a playbook its inputs, checked as `-i NAME=VALUE` is, and its `alert`
variables; a value that fails a check is a BindingError with a reason, never a run."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.hooks.binding import BindingError, alert_namespace, bind_inputs
from engine.hooks.payload import AlertPayload, decode_notification
from engine.model.playbook import Playbook
from engine.playbook.loader import load_playbook
from engine.templating.render import TemplateRenderer

ZERO = "0001-01-01T00:00:00Z"
FIRING_BODY = (Path(__file__).parent / "payloads" / "firing.json").read_bytes()
PLAYBOOK = """\
apiVersion: runbook/v1
kind: Playbook
metadata:
  name: bound
  version: 1.0.0
  maturity: 1
  owner: sre
  triggers:
    - alertname: PodCrashLooping
inputs:
{inputs}
steps:
  - id: look
    readonly: true
    shell: {{run: uptime}}
"""


@pytest.fixture
def load(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    def loaded(inputs: str) -> Playbook:
        file = tmp_path_factory.mktemp("bound") / "bound.yaml"
        file.write_text(PLAYBOOK.format(inputs=inputs))
        return load_playbook(str(file))

    return loaded


def alert(labels: dict[str, str], annotations: dict[str, str] | None = None) -> AlertPayload:
    return AlertPayload(
        status="firing",
        labels={"alertname": "PodCrashLooping", **labels},
        annotations=annotations or {},
        startsAt="2026-01-02T03:04:05Z",
        endsAt=ZERO,
        generatorURL="http://prometheus.example/graph",
        fingerprint="60144226ae7f262b",
    )


def reason(playbook: Playbook, given: AlertPayload) -> str:
    with pytest.raises(BindingError) as caught:
        bind_inputs(playbook, given)
    assert caught.value.reason == str(caught.value)
    return caught.value.reason


def test_an_input_takes_the_label_of_its_name_else_the_annotation_else_its_default(
    load,  # type: ignore[no-untyped-def]
) -> None:
    book = load(
        "  pod: {type: string}\n"
        "  namespace: {type: string, default: default}\n"
        "  replicas: {type: integer, default: 1}\n"
    )
    assert bind_inputs(book, alert({"pod": "web-1"})) == {
        "pod": "web-1",
        "namespace": "default",
        "replicas": 1,
    }
    from_annotation = alert({}, {"pod": "web-2", "replicas": "3"})
    assert bind_inputs(book, from_annotation) == {
        "pod": "web-2",
        "namespace": "default",
        "replicas": 3,
    }
    both = alert({"pod": "from-label", "namespace": "prod"}, {"pod": "from-annotation"})
    assert bind_inputs(book, both)["pod"] == "from-label"
    assert bind_inputs(book, both)["namespace"] == "prod"


def test_an_empty_label_counts_as_absent(load) -> None:  # type: ignore[no-untyped-def]
    book = load("  namespace: {type: string, default: default}\n")
    assert bind_inputs(book, alert({"namespace": ""})) == {"namespace": "default"}
    assert bind_inputs(book, alert({"namespace": ""}, {"namespace": "ops"})) == {"namespace": "ops"}


def test_from_names_the_label_or_annotation_an_input_takes(load) -> None:  # type: ignore[no-untyped-def]
    book = load(
        "  node: {type: string, required: true, from: labels.instance}\n"
        "  threshold: {type: number, from: annotations.limit, default: 90}\n"
    )
    given = alert({"instance": "host-1", "node": "ignored"}, {"limit": "75.5"})
    assert bind_inputs(book, given) == {"node": "host-1", "threshold": 75.5}
    # `from:` is the only place looked: not the label of the input's own name
    assert bind_inputs(book, alert({"instance": "host-1", "threshold": "10"})) == {
        "node": "host-1",
        "threshold": 90,
    }
    # a label name holding dots (OpenTelemetry's, in Prometheus 3) is one name
    dotted = load("  service: {type: string, from: labels.service.name}\n")
    assert bind_inputs(dotted, alert({"service.name": "checkout"})) == {"service": "checkout"}
    assert "input 'node' is required: the alert has no labels.instance" in reason(
        book, alert({"node": "host-2"})
    )


def test_a_required_input_the_alert_lacks_is_a_binding_error(load) -> None:  # type: ignore[no-untyped-def]
    book = load("  pod: {type: string, required: true}\n  cluster: {type: string}\n")
    message = reason(book, alert({}))
    assert message == ("input 'pod' is required: the alert has no labels.pod or annotations.pod")
    # an optional input without a default is left out: a template using it fails
    assert bind_inputs(book, alert({"pod": "web-1"})) == {"pod": "web-1"}


@pytest.mark.parametrize(
    ("inputs", "labels", "expected"),
    [
        ("  replicas: {type: integer}\n", {"replicas": "three"}, "'three' is not an integer"),
        ("  ratio: {type: number}\n", {"ratio": "nan"}, "'nan' is not a number"),
        ("  drain: {type: boolean}\n", {"drain": "maybe"}, "'maybe' is not a boolean"),
        (
            "  pod: {type: string, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'}\n",
            {"pod": "web-1; rm -rf /"},
            "does not match the pattern",
        ),
        (
            "  pod: {type: string, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'}\n",
            {"pod": "web-1\n"},
            "does not match the pattern",
        ),
        ("  pod: {type: string}\n", {"pod": "-rf"}, "'-rf' starts with '-'"),
        ("  pod: {type: string}\n", {"pod": "web\0-1"}, "holds a NUL character"),
        ("  mode: {type: string, enum: [soft, hard]}\n", {"mode": "nuke"}, "is not one of"),
    ],
)
def test_a_value_is_checked_as_a_command_line_value_is(
    load,  # type: ignore[no-untyped-def]
    inputs: str,
    labels: dict[str, str],
    expected: str,
) -> None:
    message = reason(load(inputs), alert(labels))
    assert expected in message
    assert message.startswith("input '")


def test_every_problem_is_in_the_reason_and_a_long_value_is_cut(load) -> None:  # type: ignore[no-untyped-def]
    book = load("  pod: {type: string}\n  replicas: {type: integer}\n")
    message = reason(book, alert({"pod": "-" + "x" * 10_000, "replicas": "many"}))
    assert "input 'pod'" in message
    assert "input 'replicas': 'many' is not an integer" in message
    assert len(message) < 400


def test_a_leading_dash_is_taken_when_declared(load) -> None:  # type: ignore[no-untyped-def]
    book = load("  offset: {type: string, allow_leading_dash: true}\n")
    assert bind_inputs(book, alert({"offset": "-5m"})) == {"offset": "-5m"}


def test_values_stay_data(load) -> None:  # type: ignore[no-untyped-def]
    book = load("  pod: {type: string}\n")
    bound = bind_inputs(book, alert({"pod": "{{ 7*7 }}"}))
    assert bound == {"pod": "{{ 7*7 }}"}
    assert TemplateRenderer({"inputs": bound}).text("{{ inputs.pod }}") == "{{ 7*7 }}"


def test_the_alert_namespace_is_what_templates_read() -> None:
    (firing,) = decode_notification(FIRING_BODY).alerts
    namespace = alert_namespace(firing)
    assert namespace == {
        "status": "firing",
        "labels": dict(firing.labels),
        "annotations": dict(firing.annotations),
        "startsAt": "2026-11-22T13:43:22.296Z",
        "endsAt": ZERO,
        "fingerprint": "60144226ae7f262b",
        "generatorURL": firing.generatorURL,
    }
    template = "{{ alert.labels.instance }} {{ alert.fingerprint }} {{ alert.annotations.summary }}"
    assert TemplateRenderer({"alert": namespace}).text(template) == (
        "host-0-1795354999 60144226ae7f262b runbook_test_value is 42 on host-0-1795354999"
    )
    namespace["labels"]["instance"] = "changed"
    assert firing.labels["instance"] == "host-0-1795354999"


FUZZED = """\
  text: {type: string, pattern: '^[a-z0-9-]+$', default: web}
  count: {type: integer, from: labels.count, default: 1}
  ratio: {type: number, from: annotations.ratio, default: 0.5}
  flag: {type: boolean, default: false}
  mode: {type: string, enum: [soft, hard], default: soft}
"""
LABEL_NAMES = st.sampled_from(["text", "count", "ratio", "flag", "mode", "other"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(LABEL_NAMES, st.text(max_size=30)),
    st.dictionaries(LABEL_NAMES, st.text(max_size=30)),
)
def test_any_labels_bind_or_give_a_reason(
    fuzzed: Playbook, labels: dict[str, str], annotations: dict[str, str]
) -> None:
    try:
        bound = bind_inputs(fuzzed, alert(labels, annotations))
    except BindingError as exc:
        assert exc.reason.startswith("input '")
        assert len(exc.reason) < 1000
        return
    assert set(bound) == {"text", "count", "ratio", "flag", "mode"}
    assert type(bound["count"]) is int and isinstance(bound["flag"], bool)


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Playbook:
    file = tmp_path_factory.mktemp("fuzzed") / "fuzzed.yaml"
    file.write_text(PLAYBOOK.format(inputs=FUZZED))
    return load_playbook(str(file))
