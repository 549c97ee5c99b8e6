"""Binding `-i NAME=VALUE` strings to declared inputs."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.core.errors import EngineError, ExitCode
from engine.model.playbook import InputSpec
from engine.playbook.inputs import InputError, bind_inputs, parse_assignments

K8S_NAME = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"


def spec(type_: str = "string", **fields: Any) -> InputSpec:
    return InputSpec(name=fields.pop("name", "x"), type=type_, **fields)


def bind_one(value: str | None, type_: str = "string", **fields: Any) -> Any:
    given = {} if value is None else {"x": value}
    return bind_inputs({"x": spec(type_, **fields)}, given).get("x", "<absent>")


def problems(specs: dict[str, InputSpec], given: dict[str, str]) -> list[str]:
    with pytest.raises(InputError) as caught:
        bind_inputs(specs, given)
    assert isinstance(caught.value, EngineError)
    assert caught.value.exit_code is ExitCode.USAGE
    return list(caught.value.problems)


@pytest.mark.parametrize(
    ("type_", "text", "expected"),
    [
        ("string", "dev", "dev"),
        ("string", "", ""),
        ("integer", "42", 42),
        ("integer", "-3", -3),
        ("integer", "+7", 7),
        ("number", "1.5", 1.5),
        ("number", "2", 2),
        ("number", "1e3", 1000.0),
        ("number", ".5", 0.5),
        ("boolean", "true", True),
        ("boolean", "YES", True),
        ("boolean", "1", True),
        ("boolean", "False", False),
        ("boolean", "no", False),
        ("boolean", "0", False),
    ],
)
def test_values_are_parsed_by_declared_type(type_: str, text: str, expected: Any) -> None:
    value = bind_one(text, type_)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("type_", "text"),
    [
        ("integer", "1.5"),
        ("integer", " 1"),
        ("integer", "1_000"),
        ("integer", ""),
        ("integer", "0x10"),
        ("number", "nan"),
        ("number", "inf"),
        ("number", "1e999"),
        ("number", "1,5"),
        ("boolean", "on"),
        ("boolean", "y"),
        ("boolean", ""),
    ],
)
def test_values_that_do_not_fit_the_type_are_refused(type_: str, text: str) -> None:
    (problem,) = problems({"x": spec(type_)}, {"x": text})
    assert problem.startswith("input 'x': ")
    assert f"is not a{'n' if type_ == 'integer' else ''} {type_}" in problem


def test_defaults_apply_and_keep_their_yaml_type() -> None:
    specs = {
        "profile": spec(name="profile", default="minikube"),
        "replicas": spec("integer", name="replicas", default=3),
        "force": spec("boolean", name="force", default=False),
        "ratio": spec("number", name="ratio", default="0.5"),
    }
    assert bind_inputs(specs, {"replicas": "5"}) == {
        "profile": "minikube",
        "replicas": 5,
        "force": False,
        "ratio": 0.5,
    }


def test_a_default_of_the_wrong_type_is_a_problem() -> None:
    assert problems({"x": spec("integer", default=True)}, {}) == [
        "input 'x': True is not an integer"
    ]


def test_required_inputs_must_be_given_and_optional_ones_are_left_out() -> None:
    assert problems({"x": spec(required=True)}, {}) == ["input 'x' is required"]
    assert bind_one(None, required=True, default="d") == "d"
    assert bind_one(None) == "<absent>"  # so a template using it fails as undefined


def test_patterns_must_match_the_whole_value() -> None:
    assert bind_one("dev-1", pattern=K8S_NAME) == "dev-1"
    for bad in ("Dev", "dev-", "dev\n", "a b", "dev;rm"):
        (problem,) = problems({"x": spec(pattern=K8S_NAME)}, {"x": bad})
        assert f"does not match the pattern {K8S_NAME}" in problem


def test_an_invalid_pattern_is_reported_not_raised() -> None:
    (problem,) = problems({"x": spec(pattern="(")}, {"x": "a"})
    assert "not an ECMA-262 regular expression" in problem


@pytest.mark.parametrize(
    ("pattern", "value", "matches"),
    [
        (r"^\d+$", "123", True),
        (r"^\d+$", "١٢٣", False),  # Arabic-Indic digits: \d is 0-9 only
        (r"^\w+$", "é", False),  # \w is [A-Za-z0-9_] only
        (r"^\s$", "\x1c", False),  # a Python space, not an ECMA-262 one
        (r"^[a-z]+$", "abc\n", False),
        (r"(?<name>[a-z]+)", "abc", True),  # ECMA-262 named group syntax
        (r"a|b", "ab", False),  # the whole value, not one alternative
    ],
)
def test_patterns_are_ecma_262_as_in_json_schema(pattern: str, value: str, matches: bool) -> None:
    if matches:
        assert bind_one(value, pattern=pattern) == value
    else:
        (problem,) = problems({"x": spec(pattern=pattern)}, {"x": value})
        assert "does not match the pattern" in problem


def test_python_only_pattern_syntax_is_refused() -> None:
    (problem,) = problems({"x": spec(pattern=r"(?P<name>[a-z]+)\Z")}, {"x": "abc"})
    assert "is not an ECMA-262 regular expression" in problem


def test_enum_limits_the_typed_value() -> None:
    assert bind_one("2", "integer", enum=(1, 2)) == 2
    (problem,) = problems({"x": spec("integer", enum=(1, 2))}, {"x": "3"})
    assert problem == "input 'x': 3 is not one of 1, 2"


def test_a_leading_dash_is_refused_unless_declared() -> None:
    (problem,) = problems({"x": spec()}, {"x": "-rf"})
    assert "starts with '-'" in problem and "allow_leading_dash" in problem
    assert bind_one("-rf", allow_leading_dash=True) == "-rf"
    assert bind_one("-3", "integer") == -3  # a number is not an option


def test_a_nul_character_is_refused_as_no_command_can_take_it() -> None:
    (problem,) = problems({"x": spec()}, {"x": "web\0-1"})
    assert problem == (
        "input 'x': 'web\\x00-1' holds a NUL character, which no command argument or"
        " environment variable can carry"
    )


def test_unknown_inputs_are_refused_with_the_declared_ones_as_hint() -> None:
    specs = {"profile": spec(name="profile", default="minikube"), "n": spec("integer", name="n")}
    with pytest.raises(InputError) as caught:
        bind_inputs(specs, {"profil": "dev"})
    assert caught.value.problems == ("unknown input 'profil'",)
    assert caught.value.hint == "declared inputs: profile (string, default 'minikube'), n (integer)"
    with pytest.raises(InputError, match="unknown input 'x'") as caught:
        bind_inputs({}, {"x": "1"})
    assert caught.value.hint == "this playbook declares no inputs"


def test_all_problems_are_reported_together_one_line_each() -> None:
    specs = {
        "a": spec(name="a", required=True),
        "b": spec("integer", name="b"),
        "c": spec(name="c", pattern="[a-z]+"),
    }
    with pytest.raises(InputError) as caught:
        bind_inputs(specs, {"b": "x", "c": "1", "d": "?"})
    assert caught.value.message.splitlines() == [
        "unknown input 'd'",
        "input 'a' is required",
        "input 'b': 'x' is not an integer",
        "input 'c': '1' does not match the pattern [a-z]+",
    ]
    assert "error: unknown input 'd'\ninput 'a'" in caught.value.render()


def test_long_values_are_shortened_in_messages() -> None:
    (problem,) = problems({"x": spec("integer")}, {"x": "x" * 500})
    assert len(problem) < 120
    (problem,) = problems({"x": spec("integer")}, {"x": "9" * 5000})
    assert problem.endswith("... is too large")


def test_a_number_input_of_thousands_of_digits_is_too_large_in_plain_words() -> None:
    (problem,) = problems({"x": spec("number")}, {"x": "9" * 5000})
    assert problem.endswith("... is too large")


@given(st.text(max_size=20))
def test_pattern_decides_exactly_like_fullmatch(value: str) -> None:
    specs = {"x": spec(pattern=K8S_NAME)}
    if re.fullmatch(K8S_NAME, value):
        assert bind_inputs(specs, {"x": value}) == {"x": value}
    else:
        with pytest.raises(InputError):
            bind_inputs(specs, {"x": value})


def test_parse_assignments_splits_on_the_first_equals_sign() -> None:
    assert parse_assignments(["a=1", "b=x=y", "c="]) == {"a": "1", "b": "x=y", "c": ""}
    assert parse_assignments([]) == {}


def test_parse_assignments_collects_malformed_and_repeated_names() -> None:
    with pytest.raises(InputError) as caught:
        parse_assignments(["novalue", "=x", "a=1", "a=2"])
    assert caught.value.problems == (
        "-i 'novalue': expected NAME=VALUE",
        "-i '=x': expected NAME=VALUE",
        "input 'a' is given twice",
    )
    assert "NAME=VALUE" in caught.value.hint
