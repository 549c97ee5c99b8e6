"""Triggers match alerts as Alertmanager matches them.

The parsing table follows Alertmanager's own (`pkg/labels/parse_test.go`, 0.25): the
operators, quoting and escapes, the tolerated spurious backslash, and the refusals.
The semantics: regular expressions are RE2 matched whole (`^(?:re)$`), and a missing
label reads as the empty string.
"""

from __future__ import annotations

import json
import random
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from components import require_binary
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.hooks.matching import (
    Matcher,
    MatcherError,
    matching_playbooks,
    matching_trigger,
    parse_matcher,
    trigger_matches,
)
from engine.hooks.payload import AlertPayload
from engine.model.playbook import Playbook, Trigger
from engine.playbook.loader import load_playbook
from engine.playbook.matchers import matcher_accepts, parse_matchers

ZERO = "0001-01-01T00:00:00Z"


PARSED = [
    ('foo="bar"', "foo", "=", "bar"),
    ('foo=~"bar.*"', "foo", "=~", "bar.*"),
    ('foo!="bar"', "foo", "!=", "bar"),
    ('foo!~"bar.*"', "foo", "!~", "bar.*"),
    ("foo=bar", "foo", "=", "bar"),
    ('  foo =  "bar"  ', "foo", "=", "bar"),
    ('foo=""', "foo", "=", ""),
    # Alertmanager 0.25 reads a missing value as the empty one (later versions refuse it)
    ("foo=", "foo", "=", ""),
    ('foo="bar,quux"', "foo", "=", "bar,quux"),
    ('quote="She said: \\"Hi, ladies!\\""', "quote", "=", 'She said: "Hi, ladies!"'),
    ('statuscode=~"5.."', "statuscode", "=~", "5.."),
    # `=~` is read before `=`: the value is what follows the operator
    ("tricky=~~~", "tricky", "=~", "~~"),
    # \\ is a backslash, \= a spurious escape kept as written, \" a quote
    ('trickier==\\\\=\\=\\"', "trickier", "=", '=\\=\\="'),
    ('contains_quote != "\\""', "contains_quote", "!=", '"'),
    ('nl="a\\nb"', "nl", "=", "a\nb"),
    ("tail=ends\\", "tail", "=", "ends\\"),
    ('colon:name="x"', "colon:name", "=", "x"),
    ('_under="x"', "_under", "=", "x"),
    # RE2 syntax that Go's regexp shares; \C inside \Q…\E and (?< inside [ ] are text
    (r'x=~"(?P<n>a)"', "x", "=~", "(?P<n>a)"),
    (r'x=~"\\Q\\C\\E"', "x", "=~", r"\Q\C\E"),
    (r'x=~"[(?<n>]"', "x", "=~", "[(?<n>]"),
]


@pytest.mark.parametrize(("text", "name", "op", "value"), PARSED)
def test_a_matcher_parses_as_alertmanager_parses_it(
    text: str, name: str, op: str, value: str
) -> None:
    matcher = parse_matcher(text)
    assert (matcher.name, matcher.op, matcher.value) == (name, op, value)
    assert isinstance(matcher, Matcher)


REFUSED = [
    ('job="value', "never closed"),
    ('job="value\\"', "never closed"),
    ('job=value"', "unescaped double quote"),
    ('trickier==\\\\=\\=\\""', "unescaped double quote"),
    ('contains_unescaped_quote = foo"bar', "unescaped double quote"),
    ('job="a"b"', "unescaped double quote"),
    ('invalid-name = "valid label"', "is not a label matcher"),
    ('9lives="x"', "is not a label matcher"),
    ('"foo=\\"bar"', "is not a label matcher"),
    ('{foo="bar"}', "is not a label matcher"),
    ("severity", "is not a label matcher"),
    ('severity=="x"', "unescaped double quote"),
    ('foo=~"invalid[regexp"', "is not an RE2 regular expression (missing ]"),
    # Python's re takes these; Go's regexp (RE2) does not, so Alertmanager does not
    ('foo=~"(a)\\\\1"', "is not an RE2 regular expression"),
    ('foo=~"(?=a)a"', "is not an RE2 regular expression"),
    # RE2 takes these, Go's regexp (Alertmanager's) does not
    (r'foo=~"a\\Cb"', "\\C is not in Go's regular expressions"),
    (r'foo=~"(?<n>a)"', "Go's regular expressions name a group (?P<name>...)"),
]


@pytest.mark.parametrize(("text", "message"), REFUSED)
def test_a_malformed_matcher_is_refused_with_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(MatcherError) as caught:
        parse_matcher(text)
    assert isinstance(caught.value, ValueError)
    assert message in str(caught.value)
    assert caught.value.hint


ITEMS = [
    ('{foo="bar"}', [("foo", "=", "bar")]),
    ('{foo="bar", baz!~"quux.*"}', [("foo", "=", "bar"), ("baz", "!~", "quux.*")]),
    (
        '{foo="bar", instance=~"some-api.*"}',
        [("foo", "=", "bar"), ("instance", "=~", "some-api.*")],
    ),
    ('{foo="bar,quux", job="job1"}', [("foo", "=", "bar,quux"), ("job", "=", "job1")]),
    ('{foo = "bar", dings != "bums", }', [("foo", "=", "bar"), ("dings", "!=", "bums")]),
    ("foo=bar,dings!=bums", [("foo", "=", "bar"), ("dings", "!=", "bums")]),
    ('{quote="She said: \\"Hi, ladies!\\""}', [("quote", "=", 'She said: "Hi, ladies!"')]),
    (
        'contains_quote != "\\"" , contains_comma !~ "foo,bar" , ',
        [("contains_quote", "!=", '"'), ("contains_comma", "!~", "foo,bar")],
    ),
    ('severity=~"critical|page"', [("severity", "=~", "critical|page")]),
]
ITEMS_REFUSED = ['"{foo=\\"bar"}', '"foo=\\"bar\\""', "a=1,,b=2", ' {a="1"}']


@pytest.mark.parametrize(("text", "expected"), ITEMS)
def test_an_item_of_matchers_holds_several_as_in_an_alertmanager_route(
    text: str, expected: list[tuple[str, str, str]]
) -> None:
    assert [(m.name, m.op, m.value) for m in parse_matchers(text)] == expected


@pytest.mark.parametrize("text", ITEMS_REFUSED)
def test_an_item_alertmanager_refuses_is_refused(text: str) -> None:
    with pytest.raises(MatcherError):
        parse_matchers(text)


def accepts(text: str, labels: dict[str, str]) -> bool:
    trigger = Trigger("A", matchers=(parse_matcher(text),))
    return trigger_matches(trigger, {"alertname": "A", **labels})


SEMANTICS = [
    ('severity=~"critical|page"', {"severity": "page"}, True),
    ('severity=~"critical|page"', {"severity": "warning"}, False),
    # anchored: the expression must match the whole value, both ends
    ('severity=~"crit"', {"severity": "critical"}, False),
    ('severity=~"ical"', {"severity": "critical"}, False),
    ('severity=~"crit.*"', {"severity": "critical"}, True),
    # the alternation is inside the anchors: ^(?:a|b)$, not ^a|b$
    ('severity=~"x|page"', {"severity": "pager"}, False),
    # `$` is the end of the text, not the place before a final newline
    ('severity=~"page"', {"severity": "page\n"}, False),
    ('severity!~"crit.*"', {"severity": "critical"}, False),
    ('severity!~"crit.*"', {"severity": "warning"}, True),
    ('env!="dev"', {"env": "prod"}, True),
    ('env!="dev"', {"env": "dev"}, False),
    ('team="db"', {"team": "db"}, True),
    ('team="db"', {"team": "DB"}, False),
    # a missing label is the empty string
    ('env!="dev"', {}, True),
    ('env="dev"', {}, False),
    ('env=""', {}, True),
    ('env=""', {"env": "x"}, False),
    ("env=", {}, True),
    ("env!=", {"env": "x"}, True),
    ('env=~".*"', {}, True),
    ('env=~".+"', {}, False),
    ('env!~".+"', {}, True),
    # the value is matched as text: a matcher's `.` is a regex only with =~
    ('host="a.b"', {"host": "axb"}, False),
    ('host=~"a.b"', {"host": "axb"}, True),
    # RE2 syntax Go accepts: POSIX classes, flags
    ('host=~"[[:alpha:]]+-[0-9]+"', {"host": "web-12"}, True),
    ('host=~"(?i)WEB-.*"', {"host": "web-12"}, True),
    ('quote="say \\"hi\\""', {"quote": 'say "hi"'}, True),
]


@pytest.mark.parametrize(("text", "labels", "expected"), SEMANTICS)
def test_a_matcher_means_what_it_means_in_alertmanager(
    text: str, labels: dict[str, str], expected: bool
) -> None:
    assert accepts(text, labels) is expected


def test_a_regex_matcher_takes_linear_time_on_a_hostile_label() -> None:
    started = time.perf_counter()
    assert not accepts('host=~"(a+)+b"', {"host": "a" * 100_000})
    assert time.perf_counter() - started < 0.5


def test_a_matcher_with_long_runs_of_spaces_is_read_in_linear_time() -> None:
    # the value's spaces were tried as the trailing spaces at each of them: 40,000 took
    # 4 s to read (60,000 here: 9 s), and a playbook's matchers are read at every check
    # and reload
    started = time.perf_counter()
    (matcher,) = parse_matchers('env="' + " " * 60_000 + 'prod"')
    (spaced,) = parse_matchers(" \t env != " + "a" + " " * 60_000 + "b \n")
    assert time.perf_counter() - started < 0.5
    assert matcher.value == " " * 60_000 + "prod"
    assert (spaced.op, spaced.value) == ("!=", "a" + " " * 60_000 + "b")


def test_a_regex_matcher_longer_than_re2_compiles_quickly_is_refused_at_once() -> None:
    started = time.perf_counter()  # RE2 took 8 s to compile this one
    with pytest.raises(MatcherError) as refused:
        parse_matchers('host=~"' + "a?" * 100_000 + '"')
    assert "200,000 characters" in str(refused.value) and refused.value.hint
    assert time.perf_counter() - started < 0.5
    assert len(str(refused.value)) < 300  # the value is not repeated back


def test_a_regex_matcher_whose_counts_add_up_past_what_re2_compiles_quickly_is_refused() -> None:
    started = time.perf_counter()  # RE2 took 3 s to compile this one
    with pytest.raises(MatcherError) as refused:
        parse_matchers('host=~"' + "(?:a){0,1000}" * 50 + '"')
    assert "10,000 copies" in str(refused.value) and refused.value.hint
    assert time.perf_counter() - started < 0.5
    parse_matchers('host=~"[0-9a-f]{64}|(?:a){0,1000}"')


def test_a_trigger_needs_its_alertname_its_labels_and_every_matcher() -> None:
    trigger = Trigger(
        "DiskFull",
        labels={"team": "sre"},
        matchers=(parse_matcher('severity=~"critical|page"'), parse_matcher('env!="dev"')),
    )
    alert = {"alertname": "DiskFull", "team": "sre", "severity": "page", "env": "prod"}
    assert trigger_matches(trigger, alert)
    assert not trigger_matches(trigger, {**alert, "alertname": "DiskFul"})
    assert not trigger_matches(trigger, {k: v for k, v in alert.items() if k != "alertname"})
    assert not trigger_matches(trigger, {**alert, "team": "db"})
    assert not trigger_matches(trigger, {k: v for k, v in alert.items() if k != "team"})
    assert not trigger_matches(trigger, {**alert, "severity": "info"})
    assert not trigger_matches(trigger, {**alert, "env": "dev"})


PLAYBOOK = """\
apiVersion: runbook/v1
kind: Playbook
metadata:
  name: {name}
  version: 1.0.0
  maturity: 1
  owner: sre
  triggers:
{triggers}
steps:
  - id: look
    readonly: true
    shell: {{run: uptime}}
"""


def playbook(tmp_path_factory: pytest.TempPathFactory, name: str, triggers: str) -> Playbook:
    file = tmp_path_factory.mktemp(name) / f"{name}.yaml"
    file.write_text(PLAYBOOK.format(name=name, triggers=triggers))
    return load_playbook(str(file))


def alert(**labels: str) -> AlertPayload:
    return AlertPayload("firing", labels, {}, "2026-01-02T03:04:05Z", ZERO, "", "60144226ae7f262b")


def test_the_playbooks_an_alert_triggers_are_those_with_a_matching_trigger(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    disk = playbook(
        tmp_path_factory,
        "disk",
        "    - alertname: DiskFull\n"
        "      labels: {team: sre}\n"
        "      matchers: ['severity=~\"critical|page\"', 'env!=\"dev\"']\n"
        "    - alertname: InodesFull\n",
    )
    any_disk = playbook(tmp_path_factory, "any-disk", "    - alertname: DiskFull\n")
    other = playbook(tmp_path_factory, "other", "    - alertname: NginxDown\n")
    books = [disk, any_disk, other]

    paged = alert(alertname="DiskFull", team="sre", severity="page")
    assert matching_playbooks(books, paged) == [disk, any_disk]
    assert matching_playbooks(books, alert(alertname="DiskFull", team="sre")) == [any_disk]
    assert matching_playbooks(books, alert(alertname="InodesFull")) == [disk]
    assert matching_playbooks(books, alert(alertname="Unknown")) == []
    assert matching_trigger(disk, alert(alertname="InodesFull").labels) == disk.metadata.triggers[1]


def test_matchers_are_read_once_when_the_playbook_loads(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    book = playbook(
        tmp_path_factory,
        "parsed",
        "    - alertname: A\n      matchers: ['severity =~ \"critical|page\"', 'team=db']\n",
    )
    (trigger,) = book.metadata.triggers
    assert [(m.name, m.op, m.value) for m in trigger.matchers] == [
        ("severity", "=~", "critical|page"),
        ("team", "=", "db"),
    ]


def quoted(value: str) -> str:
    """A value written as Alertmanager's own tools write it: in quotes, escaped."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


NAMES = st.from_regex(r"[a-zA-Z_:][a-zA-Z0-9_:]{0,10}", fullmatch=True)
OPERATORS = st.sampled_from(["=", "!=", "=~", "!~"])


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_any_text_is_a_matcher_or_a_matcher_error(text: str) -> None:
    try:
        matcher = parse_matcher(text)
    except MatcherError as exc:
        assert exc.hint
        return
    assert matcher.op in ("=", "!=", "=~", "!~")
    assert matcher_accepts(matcher, "") in (True, False)


@settings(max_examples=300, deadline=None)
@given(NAMES, st.sampled_from(["=", "!="]), st.text(max_size=30), st.text(max_size=30))
def test_a_quoted_value_reads_back_exactly_and_compares_as_text(
    name: str, op: str, value: str, label: str
) -> None:
    matcher = parse_matcher(f" {name} {op} {quoted(value)} ")
    assert (matcher.name, matcher.op, matcher.value) == (name, op, value)
    assert matcher_accepts(matcher, label) is ((label == value) == (op == "="))
    assert matcher_accepts(matcher, value) is (op == "=")


@settings(max_examples=200, deadline=None)
@given(NAMES, st.text(max_size=20), st.text(max_size=20))
def test_an_escaped_literal_regex_matches_only_the_whole_value(
    name: str, value: str, label: str
) -> None:
    escaped = "".join(f"\\x{{{ord(c):x}}}" for c in value)
    matcher = parse_matcher(f"{name}=~{quoted(escaped)}")
    assert matcher_accepts(matcher, label) is (label == value)


def test_an_alert_is_matched_against_a_hundred_playbooks_in_well_under_a_millisecond_each(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    book = playbook(
        tmp_path_factory,
        "busy",
        "    - alertname: DiskFull\n"
        "      labels: {team: sre}\n"
        "      matchers: ['severity=~\"critical|page\"', 'env!=\"dev\"', 'ns!~\"kube-.*\"']\n",
    )
    books = [book] * 100
    paged = alert(alertname="DiskFull", team="sre", severity="page", env="prod")
    fastest = float("inf")
    for _ in range(20):
        started = time.perf_counter()
        assert len(matching_playbooks(books, paged)) == 100
        fastest = min(fastest, time.perf_counter() - started)
    assert fastest < 0.005


# Alertmanager itself (amtool 0.25, offline): the same matchers in a route.


def amtool_config(tmp_path: Path, matchers: list[str]) -> Path:
    """A config whose route r<i> has the i-th matcher item, `continue`ing to the next."""
    routes = "".join(
        f"    - {{receiver: r{i}, continue: true, matchers: [{json.dumps(text)}]}}\n"
        for i, text in enumerate(matchers)
    )
    receivers = "".join(f"  - name: r{i}\n" for i in range(len(matchers)))
    config = tmp_path / f"alertmanager-{len(list(tmp_path.iterdir()))}.yml"
    config.write_text(
        f"route:\n  receiver: miss\n  routes:\n{routes}receivers:\n  - name: miss\n{receivers}"
    )
    return config


def alertmanager_accepts(amtool: str, tmp_path: Path, text: str) -> bool:
    checked = subprocess.run(
        [amtool, "check-config", str(amtool_config(tmp_path, [text]))],
        capture_output=True,
        text=True,
        timeout=30,
    )
    return checked.returncode == 0


def routed(amtool: str, config: Path, labels: dict[str, str]) -> set[str]:
    arguments = [f"{name}={quoted(value)}" for name, value in labels.items()]
    test = [amtool, "config", "routes", "test", f"--config.file={config}", *arguments]
    run = subprocess.run(test, capture_output=True, text=True, timeout=30, check=True)
    return set(run.stdout.strip().split(",")) - {"miss"}


@pytest.fixture(scope="module")
def amtool() -> str:
    return require_binary("amtool", "prometheus-alertmanager")


def test_alertmanager_accepts_and_refuses_the_matchers_we_do(amtool: str, tmp_path: Path) -> None:
    texts = [t for t, *_ in PARSED] + [t for t, _ in REFUSED] + [t for t, _ in ITEMS]
    texts += ITEMS_REFUSED
    disagree = []
    for text in texts:
        try:
            parse_matchers(text)
            ours = True
        except MatcherError:
            ours = False
        if alertmanager_accepts(amtool, tmp_path, text) is not ours:
            disagree.append((text, ours))
    assert not disagree


def test_alertmanager_routes_every_label_set_as_our_matchers_match_it(
    amtool: str, tmp_path: Path
) -> None:
    matchers = sorted({text for text, _, _ in SEMANTICS})
    config = amtool_config(tmp_path, matchers)
    label_sets = [labels for _, labels, _ in SEMANTICS]
    label_sets += [{"severity": "page", "env": "dev", "team": "db"}, {"host": "web-12"}]
    for labels in label_sets:
        ours = {
            f"r{i}"
            for i, text in enumerate(matchers)
            if matcher_accepts(parse_matcher(text), labels.get(parse_matcher(text).name, ""))
        }
        assert routed(amtool, config, labels) == ours, labels


MATCHER_TEXT = st.builds(
    "{}{}{}{}".format,
    st.sampled_from(["", " ", "{"]),
    NAMES,
    st.sampled_from(["=", "!=", "=~", "!~", " = ", "=="]),
    st.text(alphabet='ab."\\,{}*|()[] -n', max_size=12),
)


@settings(max_examples=60, deadline=None)
@given(MATCHER_TEXT)
def test_alertmanager_and_we_agree_on_generated_matchers(amtool: str, text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        try:
            parsed = parse_matchers(text)
        except MatcherError:
            parsed = None
        assert alertmanager_accepts(amtool, Path(folder), text) is (parsed is not None), text
        if parsed and len(parsed) == 1 and parsed[0].op == "=":
            config = amtool_config(Path(folder), [text])
            name, value = parsed[0].name, parsed[0].value
            assert routed(amtool, config, {name: value} if value else {}) == {"r0"}, text


REGEX_ATOMS = [
    *("a", "b", "é", "A", "1", " ", "-", ".", "*", "+", "?", "(", ")", "|", "^", "$", "{2}"),
    *("[ab]", "[^a]", "[[:upper:]]", r"\d", r"\w", r"\s", r"\b", r"\B", r"\pL", r"\n", r"\x41"),
    *("(?i)", "(?s)", "(?m)", "(?U)", r"\A", r"\z", r"\Z", r"\C", "(?<n>", "(?P<n>", "(?=", "{1,"),
]
LABEL_PIECES = ["a", "b", "A", "é", "É", "1", " ", "\n", "-", "ab"]


def test_alertmanager_and_we_agree_on_random_regular_expressions(
    amtool: str, tmp_path: Path
) -> None:
    chance = random.Random(19)
    texts = [
        "x=~" + json.dumps("".join(chance.choices(REGEX_ATOMS, k=chance.randint(1, 5))))
        for _ in range(200)
    ]
    accepted, refused = [], []
    for text in texts:
        try:
            accepted.append(parse_matcher(text))
        except MatcherError:
            refused.append(text)
    assert len(accepted) > 80
    assert not [text for text in refused[:40] if alertmanager_accepts(amtool, tmp_path, text)]
    # one config holds every matcher we accept: amtool refuses all of it if it refuses one
    config = amtool_config(tmp_path, [m.text for m in accepted])
    for _ in range(30):
        label = "".join(chance.choices(LABEL_PIECES, k=chance.randint(0, 4)))
        ours = {f"r{i}" for i, m in enumerate(accepted) if matcher_accepts(m, label)}
        assert routed(amtool, config, {"x": label} if label else {}) == ours, repr(label)
