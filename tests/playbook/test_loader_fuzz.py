"""Property tests of the loader (RELIABILITY.md, "Kinds of test").

Whatever the text, `check_file(path, text)` returns a report and never raises, and
every finding is positioned inside the text (line and column from 1). Four sources of
text: arbitrary characters, characters YAML gives meaning to, random data dumped as
YAML, and playbook-shaped data (real keys, templates, durations) that gets past the
schema into the model and the semantic checks.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.core.errors import EngineError, ExitCode
from engine.playbook.loader import CheckReport, check_file
from engine.run.preflight import RunRequest, prepare

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=2000)
YAMLISH = st.text(st.sampled_from(list(" \n\t:-?,[]{}#&*!|>'\"%@`\\~.0aZ_\ufeff\r")), max_size=400)
SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
KEYS = st.sampled_from(["apiVersion", "kind", "metadata", "steps", "id", "run", "<<"]) | st.text(
    max_size=10
)
DATA = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS | st.integers(), inner),
    max_leaves=25,
)


def mostly(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """`good` nine times out of ten, so that many documents get past the schema.

    (`st.one_of(good, good, bad)` would not do: it drops repeated strategies.)
    """
    return st.sampled_from([True] * 9 + [False]).flatmap(lambda ok: good if ok else bad)


def body(required: dict[str, Any], **optional: Any) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(required, optional=optional)


GOOD_TEMPLATES = st.sampled_from(
    [
        "{{ inputs.a }}",
        "{{ inputs.b | upper }}",
        "{% if inputs.a %}-v{% endif %}",
        "{% for i in range(3) %}{{ i }}{% endfor %}",
        "{{ alert.labels.team | default('none') }}",
        "{{ steps.s0.stdout }}",
        "{{ captures.out }}",
        "{{ captures.out | int + 1 }}",
        "{{ steps.s0.stdout.strip() }}",
        "{{ 'x'.center(inputs.a | int) }}",
        "uptime",
    ]
)
BAD_TEMPLATES = st.sampled_from(
    [
        "{{ inputs.zz }}",
        "{{ foo }}",
        "{{ ''.__class__ }}",
        "{{ secrets.token }}",
        "{{",
        "{{ 1 + }}",
        "{% if %}",
        "line one\n{{ inputs.b\n",
    ]
)
STRINGS = mostly(GOOD_TEMPLATES, BAD_TEMPLATES | st.text(max_size=12))
DURATIONS = mostly(
    st.sampled_from(["5s", "500ms", "1.5m", "1h"]),
    st.sampled_from(["5 minutes", "10", "1d", ""]) | st.integers(0, 9),
)
CAPTURES = mostly(st.sampled_from(["out", "load", "_raw"]), st.sampled_from(["Bad", ""]))
COMMANDS = STRINGS | st.lists(STRINGS, min_size=1, max_size=3)
EXPECT = body({}, stdout_matches=mostly(st.just("ok"), st.just("(")))
ENV = st.dictionaries(st.sampled_from(["TOKEN", "run"]), STRINGS, max_size=2)
SHELL = body({"run": COMMANDS}, capture=CAPTURES, env=ENV, expect=EXPECT)
KUBECTL_ACTIONS = mostly(st.sampled_from(["get", "scale", "delete"]), st.just("nope"))
KUBECTL = body({"action": KUBECTL_ACTIONS}, name=STRINGS, replicas=st.integers(-1, 3) | STRINGS)
ACTIONS = mostly(
    body({"shell": SHELL}),
    st.one_of(
        body({"wait": DURATIONS}),
        body({"manual": body({"instructions": STRINGS})}),
        body({"kubectl": KUBECTL}),
        body({"http": body({"url": STRINGS}, capture=CAPTURES)}),
        st.just({}),
    ),
)
STEP_OPTIONS = {
    "readonly": st.booleans(),
    "irreversible": STRINGS,
    "timeout": DURATIONS,
    "when": mostly(st.just("inputs.a == 'x'"), STRINGS),
    "confirm": STRINGS,
    "undo": ACTIONS,
    "retry": body({}, attempts=mostly(st.integers(1, 3), st.integers(-1, 0))),
}


@st.composite
def steps(draw: st.DrawFn, prefix: str = "s") -> list[dict[str, Any]]:
    """Steps with ids s0, s1… (now and then a duplicate or a malformed one)."""
    found = []
    for index in range(draw(st.integers(0, 4))):
        step = {"id": draw(mostly(st.just(f"{prefix}{index}"), st.sampled_from(["s0", "Bad Id"])))}
        step.update(draw(ACTIONS))
        step.update(draw(body({}, **STEP_OPTIONS)))
        found.append(step)
    return found


INPUT = body(
    {"type": mostly(st.just("string"), st.sampled_from(["integer", "boolean", "int"]))},
    default=mostly(st.just("x"), SCALARS),
    pattern=mostly(st.just("^[a-z]+$"), st.sampled_from(["^[a-z+$", "(a+)"])),
    enum=mostly(st.just(["x", "y"]), st.lists(SCALARS, max_size=2)),
)
METADATA = body(
    {
        "name": mostly(st.just("fuzz"), st.just("Fuzz_Me")),
        "version": mostly(st.just("1.0.0"), st.just("1.0")),
        "maturity": mostly(st.integers(1, 3), st.sampled_from([0, 4, "2"])),
    },
    owner=st.text(max_size=5),
    triggers=st.lists(body({"alertname": st.just("Alert")}), max_size=2),
)
PLAYBOOKS = body(
    {
        "apiVersion": mostly(st.just("runbook/v1"), st.just("runbook/v2")),
        "kind": st.just("Playbook"),
        "metadata": METADATA,
        "steps": steps(),
        "inputs": mostly(st.fixed_dictionaries({"a": INPUT, "b": INPUT}), st.just([])),
    },
    secrets=st.just({"token": {"env": "TOKEN"}}),
    targets=st.lists(STRINGS, max_size=2),
    sli=body({"probe": body({"http": body({"url": STRINGS})})}, settle=DURATIONS),
    drill=body({}, inject=steps("i"), detect_within=DURATIONS),
)


def assert_located_report(text: str) -> CheckReport:
    report = check_file("fuzz.yaml", text)
    assert isinstance(report, CheckReport)
    last_line = len(text.splitlines()) + 1
    for finding in report.findings:
        location = finding.location
        assert 1 <= location.line <= last_line, finding.render()
        assert location.col >= 1, finding.render()
        assert location.file == "fuzz.yaml"
        assert finding.message and finding.severity in ("error", "warning")
    return report


@FUZZ
@given(TEXT)
def test_arbitrary_text_gives_a_located_report(text: str) -> None:
    assert_located_report(text)


@FUZZ
@given(YAMLISH)
def test_yaml_punctuation_gives_a_located_report(text: str) -> None:
    assert_located_report(text)


@FUZZ
@given(DATA)
def test_random_yaml_data_gives_a_located_report(data: Any) -> None:
    assert_located_report(yaml.safe_dump(data, allow_unicode=True))


@FUZZ
@given(PLAYBOOKS, st.sampled_from(["block", "flow"]))
def test_playbook_shaped_data_gives_a_located_report(data: dict[str, Any], style: str) -> None:
    text = yaml.safe_dump(data, allow_unicode=True, default_flow_style=style == "flow")
    report = assert_located_report(text)
    if report.ok():
        assert report.playbook is not None


SCALAR_TAGS = st.sampled_from(["", "!!int ", "!!float ", "!!bool ", "!!null ", "!!str "])
LONG_NUMBERS = st.builds(
    lambda sign, prefix, digits: sign + prefix + digits,
    st.sampled_from(["", "-", "+"]),
    st.sampled_from(["", "0x", "0o", "0b"]),
    st.integers(1, 6000).map(lambda n: "1" * n),
)
ODD_SCALARS = st.builds(
    lambda tag, text: tag + text,
    SCALAR_TAGS,
    LONG_NUMBERS | st.sampled_from(["abc", "maybe", "0x", "1e999", ".nan", "~", "1_0", ""]),
)
PLACES = st.sampled_from(
    ["maturity: {}", "version: {}", "owner: {}", "x-extra: {}", "inputs: {{a: {{type: integer, "
     "default: {}}}}}", "targets: [{}]"]
)  # fmt: skip
STEP_PLACES = st.sampled_from(
    ["timeout: {}", "readonly: {}", "retry: {{attempts: {}}}", "shell: {{run: {}}}",
     "kubectl: {{action: scale, kind: deployment, name: web, replicas: {}}}"]
)  # fmt: skip


@FUZZ
@given(ODD_SCALARS, PLACES, STEP_PLACES, st.booleans())
def test_tagged_and_huge_scalars_give_a_located_report(
    scalar: str, place: str, step_place: str, in_step: bool
) -> None:
    """`!!int abc`, `!!bool maybe` and integers of thousands of digits, anywhere."""
    head = "apiVersion: runbook/v1\nkind: Playbook\n"
    meta = "metadata: {name: fuzz, version: 1.0.0, maturity: 2, owner: me}\n"
    step = "steps:\n  - id: s0\n    readonly: true\n    shell: {run: uptime}\n"
    if in_step:
        step = f"steps:\n  - id: s0\n    {step_place.format(scalar)}\n    shell: {{run: uptime}}\n"
        text = head + meta + step
    else:
        text = head + meta + step + place.format(scalar) + "\n"
    assert_located_report(text)


COMPUTED = st.sampled_from(
    ["{{ captures.out | int + 1 }}", "{{ steps.s0.stdout.strip() }}", "{{ captures.out.x.y }}",
     "{{ 'x'.center(inputs.a | int) }}", "{{ inputs.a * 3 }}", "{{ steps.s0.exit_code + 1 }}",
     "{{ captures.out | length }}", "{{ (captures.out | list)[0] }}", "{{ inputs.a.split() }}",
     "{% for x in captures.out %}{{ x }}{% endfor %}", "{{ captures.out ~ inputs.a }}",
     "{{ '%s' % captures.out }}", "{{ steps.s0.status.upper() }}", "{{ captures.out.items() }}"]
)  # fmt: skip
COMPUTED_STEPS = st.lists(
    st.fixed_dictionaries(
        {"readonly": st.just(True), "shell": st.fixed_dictionaries({"run": COMPUTED})},
        optional={"when": st.just("captures.out.strip() == 'x'"), "confirm": COMPUTED},
    ),
    min_size=1,
    max_size=3,
)


@FUZZ
@given(steps=COMPUTED_STEPS, value=st.sampled_from(["x", "7", "-1", "{{ 7*7 }}", "9" * 5000]))
def test_a_playbook_that_validates_plans_or_gives_an_engine_error(
    steps: list[dict[str, Any]], value: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Everything `runbook plan` does before step 1, on templates that compute with
    inputs and with what only the run knows: no exception but an EngineError."""
    first = {"id": "s0", "readonly": True, "shell": {"run": "echo 1", "capture": "out"}}
    numbered = [{"id": f"s{i}", **step} for i, step in enumerate(steps, 1)]
    data = {
        "apiVersion": "runbook/v1",
        "kind": "Playbook",
        "metadata": {"name": "fuzz", "version": "1.0.0", "maturity": 2, "owner": "me"},
        "inputs": {"a": {"type": "string"}},
        "steps": [first, *numbered],
    }
    path = tmp_path_factory.mktemp("plan") / "fuzz.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    assert check_file(str(path)).ok(), [f.render() for f in check_file(str(path)).findings]
    request = RunRequest(str(path), {"a": value}, dry_run=True)
    try:
        prepare(request, run_id="dry-run", mode="dry-run")
    except EngineError as error:
        assert error.exit_code != ExitCode.INTERNAL
