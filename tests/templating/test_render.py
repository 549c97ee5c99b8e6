"""The template sandbox: rendering, shell quoting, errors, static references, conditions."""

from __future__ import annotations

import contextlib
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import jinja2.filters
import jinja2.tests
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tree import REPO

from engine.core.errors import EngineError, ExitCode
from engine.core.shellsyntax import ShellCommand
from engine.run.context.variables import PlaceholderNamespace
from engine.run.plan import PlanRenderer
from engine.templating import budget as template_budget
from engine.templating import render
from engine.templating.render import (
    RenderError,
    TemplateRenderer,
    compile_condition,
    condition_references,
    evaluate_condition,
    template_references,
)

SECRET = "s3cr3t-CANARY-value"
INJECTIONS = [
    "; touch PWNED",
    "$(touch PWNED)",
    "`touch PWNED`",
    "x\ntouch PWNED",
    "x && touch PWNED",
    "x | touch PWNED",
    "' ; touch PWNED ; '",
    '" ; touch PWNED ; "',
    "x'$(touch PWNED)'",
    "{{ 7*7 }}",
    "{% if true %}touch PWNED{% endif %}",
    "*",
    "",
]
NO_NUL = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"))


def make(**inputs: Any) -> TemplateRenderer:
    return TemplateRenderer(
        {
            "inputs": {"profile": "dev", **inputs},
            "secrets": {"token": SECRET},
            "steps": {"check": {"stdout": "ok\n", "exit_code": 0}},
            "alert": {"labels": {"severity": "page"}},
        }
    )


def run_sh(command: ShellCommand, cwd: Path) -> bytes:
    env = {"PATH": os.environ["PATH"], "LC_ALL": "C", **command.env}
    done = subprocess.run(command.argv, cwd=cwd, capture_output=True, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout


# --- text ------------------------------------------------------------------------------


def test_text_renders_variables_without_escaping_and_keeps_trailing_newline() -> None:
    assert make(x="<a & b>").text("{{ inputs.profile }}: {{ inputs.x }}\n") == "dev: <a & b>\n"


def test_text_reads_items_and_nested_values() -> None:
    renderer = make()
    assert renderer.text("{{ steps.check.stdout | trim }}/{{ alert['labels'].severity }}") == (
        "ok/page"
    )


@pytest.mark.parametrize("value", ["{{ 7*7 }}", "{% for x in range(3) %}x{% endfor %}", "{#"])
def test_data_from_outside_is_never_rendered_twice(value: str) -> None:
    renderer = make(v=value)
    assert renderer.text("{{ inputs.v }}") == value
    assert renderer.value({"a": ["{{ inputs.v }}"]}) == {"a": [value]}
    assert renderer.shell("echo {{ inputs.v }}").values == (("RUNBOOK_V1", value),)


def test_value_renders_strings_recursively_and_leaves_other_scalars() -> None:
    data = {"{{ key }}": "{{ inputs.profile }}", "n": 3, "l": ["{{ inputs.profile }}", None]}
    data["t"] = ("{{ inputs.profile }}", 1.5, True)
    assert make().value(data) == {
        "{{ key }}": "dev",
        "n": 3,
        "l": ["dev", None],
        "t": ("dev", 1.5, True),
    }


def test_compiled_templates_are_cached_per_string() -> None:
    first = render._compile("text", "{{ inputs.cached }}")
    assert render._compile("text", "{{ inputs.cached }}") is first
    assert render._compile("shell", "{{ inputs.cached }}") is not first


@pytest.mark.parametrize(
    "template",
    [
        'echo "len=${#X} mark #} tail=ok"',
        "echo {# not a comment #} {{ '{#' }}",
        "a {#\nb\n#} c",
    ],
)
def test_jinja_comment_syntax_is_shell_text(template: str) -> None:
    expected = template.replace("{{ '{#' }}", "{#")
    assert make().text(template) == expected
    assert template_references(template) == set()


def test_a_template_holding_a_nul_is_refused() -> None:
    with pytest.raises(RenderError, match="NUL"):
        make().text("a\0{#\0 b \0#}\0 {{ inputs.profile }}")


# --- shell -----------------------------------------------------------------------------


@pytest.mark.parametrize("value", INJECTIONS)
def test_shell_metacharacters_in_values_arrive_as_one_literal_argument(
    value: str, tmp_path: Path
) -> None:
    command = make(v=value).shell("printf '%s|' {{ inputs.v }} {{ inputs.v }}")
    assert run_sh(command, tmp_path) == f"{value}|{value}|".encode()
    assert not (tmp_path / "PWNED").exists()


def test_shell_passes_every_value_in_the_environment_never_in_the_script() -> None:
    renderer = make(a="x y", n=5)
    assert renderer.shell("ls -l {{ inputs.a }} | head -n {{ inputs.n }}") == ShellCommand(
        'ls -l "${RUNBOOK_V1}" | head -n "${RUNBOOK_V2}"',
        (("RUNBOOK_V1", "x y"), ("RUNBOOK_V2", "5")),
    )
    command = renderer.shell("echo \"{{ inputs.a ~ '!' }}\" # {{ inputs.n }}")
    assert command.script == 'echo "${RUNBOOK_V1}" # "${RUNBOOK_V2}"'
    assert command.shown() == "RUNBOOK_V1='x y!'\nRUNBOOK_V2=5\n" + command.script
    assert renderer.shell("uptime") == ShellCommand("uptime")


@pytest.mark.parametrize("value", ["-rf", "--force", "-", -1])
def test_shell_refuses_values_that_start_with_a_dash(value: object) -> None:
    with pytest.raises(RenderError) as caught:
        make(v=value).shell("rm {{ inputs.v }}")
    assert "starts with '-'" in caught.value.message
    assert "--" in caught.value.hint
    assert make(v=value).text("rm {{ inputs.v }}") == f"rm {value}"


def test_a_double_dash_before_it_lets_a_value_start_with_a_dash() -> None:
    assert make(v="-rf").shell("rm -f -- {{ inputs.v }}").values == (("RUNBOOK_V1", "-rf"),)
    assert make(v="-rf").argv(["rm", "--", "{{ inputs.v }}"]) == ["rm", "--", "-rf"]
    for refused in ("rm {{ inputs.v }} -- x", "rm -- a; rm {{ inputs.v }}"):
        with pytest.raises(RenderError, match="starts with '-'"):
            make(v="-rf").shell(refused)
    with pytest.raises(RenderError, match="starts with '-'"):
        make(v="-rf").argv(["rm", "{{ inputs.v }}", "--"])


def test_shell_refuses_a_secret_on_the_command_line_without_showing_it() -> None:
    with pytest.raises(RenderError) as caught:
        make().shell("curl -H 'token: {{ secrets.token }}' http://x")
    assert "secret 'token'" in caught.value.message
    assert "TOKEN: '{{ secrets.token }}'" in caught.value.hint  # in `env:`, as the docs say
    assert SECRET not in caught.value.render()
    assert make().text("{{ secrets.token }}") == SECRET  # env and stdin may carry it


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{% filter upper %}echo {{ inputs.a }}{% endfilter %}", "`{% filter %}` block"),
        ("{% set y %}{{ inputs.a }}{% endset %}echo {{ y }}", "`{% set %}` or `{% filter %}`"),
        ("{% macro m(x) %}{{ x }}{% endmacro %}echo {{ m(inputs.a) }}", "`{% set %}`"),
        ("echo '{{ inputs.a }}'", "a template inside '…': its value could run as code"),
    ],
)
def test_shell_refuses_a_value_it_cannot_keep_out_of_the_text(template: str, message: str) -> None:
    with pytest.raises(RenderError) as caught:
        make(a="x").shell(template)
    assert message in caught.value.message


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=NO_NUL)
def test_any_value_reaches_the_shell_unchanged(value: str, tmp_path_factory: Any) -> None:
    renderer = make(v=value)
    if value.startswith("-"):
        with pytest.raises(RenderError):
            renderer.shell("printf %s {{ inputs.v }}")
        return
    cwd = tmp_path_factory.mktemp("sh")
    assert run_sh(renderer.shell("printf %s {{ inputs.v }}"), cwd) == value.encode()
    assert not (cwd / "PWNED").exists()


# --- errors ----------------------------------------------------------------------------


def expect_error(template: str, **inputs: Any) -> RenderError:
    with pytest.raises(RenderError) as caught:
        make(**inputs).text(template)
    error = caught.value
    assert isinstance(error, EngineError)
    assert error.exit_code is ExitCode.USAGE
    assert error.__cause__ is None and error.__suppress_context__  # no traceback chain
    assert SECRET not in error.render()
    return error


def test_undefined_input_names_it_and_suggests() -> None:
    error = expect_error("x {{ inputs.profil }}")
    assert error.message == "undefined variable 'inputs.profil'"
    assert "did you mean 'inputs.profile'?" in error.hint
    assert "inputs:" in error.hint


@pytest.mark.parametrize(
    ("template", "name", "hint"),
    [
        ("{{ nope }}", "nope", "templates can read: alert, inputs, secrets, steps"),
        ("{{ secrets.tokn }}", "secrets.tokn", "secrets:"),
        ("{{ steps.later.stdout }}", "steps.later", "after that step ran"),
        ("{% if alert.labels.team %}x{% endif %}", "alert.labels.team", "is defined"),
    ],
)
def test_undefined_variables_name_the_path_with_a_hint(template: str, name: str, hint: str) -> None:
    error = expect_error(template)
    assert error.message == f"undefined variable '{name}'"
    assert hint in error.hint


@pytest.mark.parametrize(
    "template",
    [
        "{{ cycler.__init__.__globals__ }}",
        "{{ ''.__class__.__mro__ }}",
        "{{ inputs.profile.__class__ }}",
        "{{ steps.check.update({'x': 1}) }}",
        "{{ 2 ** 100000000 }}",
        "{{ 'x' * 10 ** 9 }}",
    ],
)
def test_sandbox_violations_are_render_errors(template: str) -> None:
    assert "sandbox refused" in expect_error(template).message


@pytest.mark.parametrize(
    ("template", "line"), [("{{ x", 1), ("a\n{{ x }\n", 2), ("a\nb\n{% endfor %}", 3)]
)
def test_syntax_errors_give_the_line(template: str, line: int) -> None:
    error = expect_error(template)
    assert error.message.startswith(f"template syntax error (line {line}):")
    assert "{{" in error.hint


@pytest.mark.parametrize(
    "template",
    [
        "{{ {}[secrets.token] }}",
        "{{ inputs[secrets.token] }}",
        "{{ secrets.token + 1 }}",
        "{{ ('{' ~ secrets.token ~ '}').format() }}",
        "{% include secrets.token %}",
    ],
)
def test_secret_values_never_appear_in_error_messages(template: str) -> None:
    expect_error(template)


def test_a_huge_value_in_an_error_message_is_shortened() -> None:
    error = expect_error("{{ inputs[('x' * 999999)] }}")
    assert len(error.message) < 600
    assert error.message.endswith("characters)")


def test_other_failures_are_render_errors_too() -> None:
    assert "ZeroDivisionError" in expect_error("{{ 1 / 0 }}").message


# --- static references -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        (
            "{{ inputs.profile }} {{ steps.check.stdout }}",
            {("inputs", "profile"), ("steps", "check", "stdout")},
        ),
        ("{{ inputs['x'] }}{{ inputs[\"y\"].z }}", {("inputs", "x"), ("inputs", "y", "z")}),
        ("{{ foo }}", {("foo",)}),
        ("{{ inputs.name | upper }} {{ inputs.n.upper() }}", {("inputs", "name"), ("inputs", "n")}),
        (
            "{{ steps.x.lines[0] }} {{ inputs[key] }}",
            {("steps", "x", "lines"), ("inputs",), ("key",)},
        ),
        (
            "{% if alert.labels.team is defined %}{{ alert.labels.team }}{% endif %}",
            {("alert", "labels", "team")},
        ),
        (
            "{% for item in inputs.items_ %}{{ item.name }}{{ loop.index }}{% endfor %}"
            "{% set n = range(3) | list %}{{ n }}{% macro m(a) %}{{ a }}{% endmacro %}{{ m(1) }}",
            {("inputs", "items_")},
        ),
        ("plain text, no template", set()),
    ],
)
def test_template_references(template: str, expected: set[tuple[str, ...]]) -> None:
    assert template_references(template) == expected


def test_template_references_reports_syntax_errors_with_the_line() -> None:
    with pytest.raises(RenderError, match=r"line 3"):
        template_references("ok\nok\n{{ inputs.x }")


# --- conditions ------------------------------------------------------------------------


def test_conditions_evaluate_against_variables() -> None:
    variables = make().variables
    assert evaluate_condition("inputs.profile == 'dev' and steps.check.exit_code == 0", variables)
    assert not evaluate_condition("alert.labels.severity != 'page'", variables)
    assert evaluate_condition("alert.labels.team is not defined", variables)


@pytest.mark.parametrize("expr", ["inputs.missing", "inputs.missing == 1", "nope or true"])
def test_conditions_on_undefined_values_are_errors(expr: str) -> None:
    with pytest.raises(RenderError, match="undefined variable"):
        evaluate_condition(expr, make().variables)


@pytest.mark.parametrize("expr", ["inputs.x ==", "a b", "{{ inputs.x }}", ""])
def test_conditions_that_do_not_parse_are_refused(expr: str) -> None:
    with pytest.raises(RenderError):
        compile_condition(expr)


def test_condition_errors_do_not_show_secrets() -> None:
    with pytest.raises(RenderError) as caught:
        evaluate_condition("{}[secrets.token]", make().variables)
    assert SECRET not in caught.value.render()


def test_condition_references() -> None:
    assert condition_references("inputs.a == steps.b.value and x is defined") == {
        ("inputs", "a"),
        ("steps", "b", "value"),
        ("x",),
    }


class NotYetKnown(Exception):
    pass


class Placeholder:
    def __bool__(self) -> bool:
        raise NotYetKnown("captures.x")


def test_exceptions_raised_by_a_variable_itself_propagate() -> None:
    # A dry-run placeholder signals "known only during the run" this way.
    with pytest.raises(NotYetKnown):
        evaluate_condition("captures.x", {"captures": {"x": Placeholder()}})


# --- robustness ------------------------------------------------------------------------

FRAGMENTS = st.sampled_from(
    ["{{", "}}", "{%", "%}", "{#", "#}", " ", "inputs", "secrets", "steps", ".", "[", "]",
     "'", '"', "(", ")", "|", "x", "profile", "token", "if", "endif", "for", "in", "endfor",
     "set", "=", "==", "~", "*", "-", "1", "__class__", "cycler", "range", "\n", "raw"]
)  # fmt: skip
TEMPLATES = st.one_of(st.text(), st.lists(FRAGMENTS, max_size=30).map("".join))


@settings(max_examples=400, deadline=None)
@given(template=TEMPLATES)
def test_arbitrary_templates_only_ever_raise_render_error(template: str) -> None:
    renderer = make()
    for attempt in (
        renderer.text,
        renderer.shell,
        template_references,
        condition_references,
        lambda t: evaluate_condition(t, renderer.variables),
    ):
        try:
            attempt(template)
        except RenderError as error:
            assert SECRET not in error.render()


def test_importing_the_module_does_not_import_jinja2() -> None:
    modules = "engine.templating.render, engine.playbook.inputs, engine.run.context.secrets"
    code = f"import sys, {modules}; print('jinja2' in sys.modules)"
    root = str(REPO)
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": root},
        check=True,
    )
    assert done.stdout.strip() == "False"


# --- the budget: time and size (RELIABILITY.md #15) ---------------------------------------

PADDED = '"x" * 999999'
SHARED = "{% set ns = namespace(x=[1]) %}{% for i in range(60) %}{% set ns.x = [ns.x, ns.x] %}"
HOSTILE = [
    '{{ "x".center(10**9) }}',
    '{{ "x".ljust(10**9) }}',
    '{{ "x".rjust(10**9, "y") }}',
    '{{ "1".zfill(10**9) }}',
    '{{ "a\\tb".expandtabs(10**9) }}',
    "{{ (" + PADDED + ').replace("x", "yy") }}',
    '{{ "ab".translate({97: ' + PADDED + "}) }}",
    '{{ "-".join([' + PADDED + "] * 999) }}",
    '{{ (1).to_bytes(10**9, "big") }}',
    '{{ "%0999999999d" % 1 }}',
    '{{ "%*d" % (10**9, 1) }}',
    '{{ "%.999999999f" % 1.0 }}',
    '{{ "{:>999999999}".format(1) }}',
    '{{ "{:>{w}}".format(1, w=10**9) }}',
    '{{ "{:.999999999f}".format(1.0) }}',
    '{{ "{a:>999999999}".format_map({"a": 1}) }}',
    '{{ "x" | center(10**9) }}',
    '{{ "x" | indent(10**9) }}',
    '{{ ("a" * 1000) | wordwrap(1, wrapstring="x" * 100000) }}',
    '{{ "%0999999999d" | format(1) }}',
    "{{ 1 | tojson(10**9) }}",
    "{{ ([[1] * 1000] * 1000) | sum(start=[]) | length }}",
    "{{ ('%s' * 333333) % ((1,) * 333333) }}",
    '{{ range(100000) | join("x" * 1000) }}',
    "{{ ([" + PADDED + "] * 999) | join }}",
    "{{ (" + PADDED + ") | replace('x', 'yy') }}",
    "{{ [1] | batch(10**9, 0) | list | length }}",
    "{{ [1] | slice(10**9) | list | length }}",
    "{{ lipsum(10**6) }}",
    "{{ (" + PADDED + ") + (" + PADDED + ") }}",
    "{{ 'x' * 10 ** 9 }}",
    "{{ 10 ** 5000 }}",
    "{{ (10 ** 3000) * (10 ** 3000) }}",
    "{% set ns = namespace(s='xx') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}"
    "{% endfor %}",
    "{% set ns = namespace(s='xx') %}{% for i in range(64) %}{% set ns.s = ns.s + ns.s %}"
    "{% endfor %}",
    SHARED + "{% endfor %}{{ ns.x }}",
    SHARED + "{% endfor %}{{ ns.x | tojson }}",
    SHARED + "{% endfor %}{{ ns.x | string }}",
    SHARED + "{% endfor %}{{ ns }}",
    SHARED + "{% endfor %}{{ '%s' % (ns.x,) }}",
    SHARED + "{% endfor %}{{ '{}'.format(ns.x) }}",
    SHARED + "{% endfor %}{{ ns.x | join }}",
    "{% for i in range(100000) %}{{ " + PADDED + " }}{% endfor %}",
    "{% set b %}{% for i in range(100000) %}{{ " + PADDED + " }}{% endfor %}{% endset %}",
    "{% macro m() %}{% for i in range(100000) %}{{ " + PADDED + " }}{% endfor %}{% endmacro %}"
    "{{ m() | length }}",
]


@pytest.mark.timeout(30)
@pytest.mark.parametrize("template", HOSTILE)
def test_templates_that_would_build_gigabytes_are_refused_before_they_do(template: str) -> None:
    started = time.perf_counter()
    error = expect_error(template)
    assert time.perf_counter() - started < 1.5
    assert error.message.startswith("the template sandbox refused: ")
    assert "characters or items" in error.hint or "4,000 digits" in error.message
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss < 1024 * 1024  # KiB: < 1 GiB


SLOW = [
    "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "{% set ns = namespace(n=0) %}{% for i in range(100000) %}{% for j in range(100000) %}"
    "{% set ns.n = ns.n + 1 %}{% endfor %}{% endfor %}",
    "{% for i in range(100000) %}{% for c in 'x' * 999999 %}{% endfor %}{% endfor %}",
    "{% for i in range(100000) %}{{ range(100000) | sum }}{% endfor %}",
    "{% macro m() %}{% for i in range(100000) %}{% endfor %}{% endmacro %}"
    "{% for i in range(100000) %}{{ m() }}{% endfor %}",
    "{% for i in range(100000) %}{{ ((range(100000) | list) * 9) | groupby('real') }}{% endfor %}",
    "{% for i in range(100000) %}{{ ((range(100000) | list) * 9) | map(attribute='real')"
    " | select | list | length }}{% endfor %}",
]


@pytest.mark.timeout(30)
@pytest.mark.parametrize("template", SLOW)
def test_a_template_that_runs_too_long_stops_after_its_time_budget(template: str) -> None:
    started = time.perf_counter()
    error = expect_error(template)
    assert time.perf_counter() - started < template_budget.MAX_SECONDS + 0.5
    assert "longer than its 1 s budget" in error.message or "characters" in error.hint
    assert "second" in error.hint or "characters" in error.hint


@pytest.mark.timeout(60)
def test_a_value_used_as_a_printf_template_is_read_in_linear_time() -> None:
    """A value (an alert's label) on the left of `%`: every `%(` without a `)` after it
    made the size estimate read the rest of the text again, so 200,000 of them
    ran seconds past the budget; `%` fails on the first one, and so does the render."""
    started = time.perf_counter()
    with pytest.raises(RenderError, match="incomplete format key"):
        make(v="%(" * 200_000).text("{{ inputs.v % {} }}")
    assert time.perf_counter() - started < 0.5
    assert make(v="%(a)s and %(b)3s").text("{{ inputs.v % {'a': 1, 'b': 2} }}") == "1 and   2"


def test_a_slow_condition_stops_too() -> None:
    with pytest.raises(RenderError, match="budget"):
        expr = "((range(100000) | list) * 10) | map('string') | map('center', 9) | list"
        evaluate_condition(f"({expr}) | map('trim') | list", {})


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ steps.check.stdout.strip() }}", "ok"),
        ("{{ steps.check.stdout.upper().split() | join(',') }}", "OK"),
        ("{{ inputs.profile.center(7, '*') }}", "**dev**"),
        ("{{ '%05d|%-4s|%.2f' % (42, 'ab', 1.5) }}", "00042|ab  |1.50"),
        ("{{ '{:>6}|{:.1f}'.format(inputs.profile, 2.25) }}", "   dev|2.2"),
        ("{{ 'a b c' | wordwrap(2) | length }}", "5"),
        ("{{ 'a\nb' | indent(2) }}", "a\n  b"),
        ("{{ range(3) | join('-') }}", "0-1-2"),
        ("{{ [1, 2, 3] | batch(2) | list }}", "[[1, 2], [3]]"),
        ("{{ [[1, 2], [3]] | sum(start=[]) }}", "[1, 2, 3]"),
        ("{{ [{'a': 2}, {'a': 1}] | map(attribute='a') | sort | join }}", "12"),
        ("{{ [{'a': 1}, {'a': 1}] | groupby('a') | map('first') | list }}", "[1]"),
        ("{{ {'a': [1]} | tojson(2) }}", '{\n  "a": [\n    1\n  ]\n}'),
        ("{{ lipsum(1, html=false, min=3, max=4) | wordcount > 2 }}", "True"),
        ("{{ 2 ** 64 }}", "18446744073709551616"),
        ("{{ ('ab' * 3) ~ (([1] * 2) | string) }}", "ababab[1, 1]"),
        ("{% for c in 'abc' %}{{ loop.index }}{{ c }}{% endfor %}", "1a2b3c"),
        ("{% set x %}{{ inputs.profile }}!{% endset %}{{ x }}", "dev!"),
        ("{{ ('x' * 999999) | length }}", "999999"),
        ("{{ ((range(100000) | list) * 10) | length }}", "1000000"),
    ],
)
def test_after_a_refusal_ordinary_templates_still_render(template: str, expected: str) -> None:
    renderer = make()
    with pytest.raises(RenderError, match="sandbox refused"):
        renderer.text('{{ "%0999999999d" % 1 }}')
    assert renderer.text(template) == expected


@pytest.mark.timeout(30)
def test_each_render_has_its_own_time_budget() -> None:
    renderer = make()
    with pytest.raises(RenderError, match="budget"):
        renderer.text(SLOW[0])
    loop = "{% for i in range(100000) %}{% endfor %}{{ inputs.profile }}"
    started = time.perf_counter()
    while time.perf_counter() - started < template_budget.MAX_SECONDS * 1.5:
        assert renderer.text(loop) == "dev"  # together longer than one budget


# --- fuzzing: methods, filters on wrong types, huge numbers, deep nesting ------------------

FUZZ_VALUES = st.sampled_from(
    ["inputs.profile", "inputs.n", "steps.check.stdout", "steps.check.exit_code",
     "captures.c", "alert.labels", "'abc'", "'a\\tb'", "'%s %d'", "'{0} {}'", "'{:{}}'",
     "'%*d'", "''", "10 ** 300", "1e308", "-1", "0", "[1, [2]]", "{'a': 1}", "none", "true",
     "range(5)", "namespace(a=1)", "cycler(1, 2)", "'9' * 5000", "2 ** 13000", "(1, 2)"]
)  # fmt: skip
FUZZ_ARGS = st.sampled_from(
    ["", "1", "-1", "0", "10 ** 9", "'x'", "none", "[1]", "{'a': 1}", "1, 2", "'a', 'b'",
     "inputs.profile", "captures.c", "attribute='a'", "10 ** 300", "1e308", "true", "'%'"]
)  # fmt: skip
OTHER_METHODS = ["items", "keys", "get", "to_bytes", "bit_length", "count", "index", "hex"]
FUZZ_METHODS = st.sampled_from(
    [*sorted(name for name in dir(str) if not name.startswith("_")), *OTHER_METHODS]
)
FUZZ_FILTERS = st.sampled_from(sorted(jinja2.filters.FILTERS))
FUZZ_TESTS = st.sampled_from(sorted(jinja2.tests.TESTS))
FUZZ_OPERATORS = st.sampled_from(["+", "-", "*", "/", "//", "%", "**", "~", "==", "<", "in"])


@st.composite
def fuzz_expressions(draw: st.DrawFn) -> str:
    expression = draw(FUZZ_VALUES)
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["filter", "method", "operator", "test", "nest"]))
        if kind == "filter":
            expression = f"({expression}) | {draw(FUZZ_FILTERS)}({draw(FUZZ_ARGS)})"
        elif kind == "method":
            expression = f"({expression}).{draw(FUZZ_METHODS)}({draw(FUZZ_ARGS)})"
        elif kind == "operator":
            expression = f"({expression}) {draw(FUZZ_OPERATORS)} ({draw(FUZZ_VALUES)})"
        elif kind == "test":
            expression = f"({expression}) is {draw(FUZZ_TESTS)}"
        else:
            expression = f"[{expression}, ({expression})]"
    return expression


def plan_renderer() -> PlanRenderer:
    variables = dict(make().variables)
    variables["steps"] = PlaceholderNamespace("steps")
    variables["captures"] = PlaceholderNamespace("captures")
    return PlanRenderer(variables)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expression=fuzz_expressions())
def test_any_expression_renders_or_is_a_render_error_for_the_run_and_the_plan(
    expression: str,
) -> None:
    """No exception but RenderError, in the run or in a plan, for values and stand-ins."""
    run = make()
    run.variables = {**run.variables, "captures": {"c": "7"}}
    for renderer in (run, plan_renderer()):
        for attempt in (renderer.text, renderer.shell):
            started = time.perf_counter()
            with contextlib.suppress(RenderError):
                attempt("{{ " + expression + " }}")
            assert time.perf_counter() - started < template_budget.MAX_SECONDS + 1
    with contextlib.suppress(RenderError):
        evaluate_condition(expression, run.variables)
