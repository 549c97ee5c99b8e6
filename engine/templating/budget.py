"""The budget of one template render: how long it may run and how large what it builds.

A template is code from the playbook, and the sandbox stops it from touching anything;
this stops it from running for ever or filling memory (RELIABILITY.md #14, #15): nested
loops, `lipsum(10**6)`, `'x'.center(10**9)`, `'%0999999999d' % 1`. Sizes are checked
*before* an operation builds its result, so a refused template never allocated it.

Plain Python, no jinja2: `engine.templating.render` imports it on every start.
"""

from __future__ import annotations

import contextvars
import itertools
import re
import time
from collections.abc import (
    Collection,
    ItemsView,
    Iterable,
    Iterator,
    KeysView,
    Mapping,
    Sized,
    ValuesView,
)
from typing import Any

MAX_SIZE = 1_000_000  # characters of a string, items of a list, one rendered result
MAX_SECONDS = 1.0  # of one render; also bounds how long a signal waits behind one
_CHECK_EVERY = 1024  # loop iterations between two looks at the clock
_MAX_DEPTH = 200  # nesting of a value a template may print
_TIME_HINT = (
    "a template renders in well under a second: loop over fewer items, or compute "
    "large data in a step and read its output"
)
_SIZE_HINT = (
    f"a template builds at most {MAX_SIZE:,} characters or items: use smaller widths, "
    "counts and repetitions"
)


# The render in progress, or None: [when it must end (time.monotonic()), characters
# it has written so far]. A list: one is made for every render, and it is the cheapest.
_current: contextvars.ContextVar[list[float] | None] = contextvars.ContextVar(
    "_current", default=None
)


class BudgetExceeded(Exception):
    """A template went past its time or size budget; `hint` says which and what to do."""

    hint = _SIZE_HINT


class TooSlow(BudgetExceeded):
    hint = _TIME_HINT


def start() -> contextvars.Token[list[float] | None]:
    """Open the budget of one render; hand the token to `stop` when it ends."""
    return _current.set([time.monotonic() + MAX_SECONDS, 0])


def stop(token: contextvars.Token[list[float] | None]) -> None:
    _current.reset(token)


def check_time() -> None:
    """Raise when the render in progress has used up its time (outside one: never)."""
    render = _current.get()
    if render is not None and time.monotonic() > render[0]:
        raise TooSlow(f"the template ran longer than its {MAX_SECONDS:g} s budget")


def check_size(size: int, what: str) -> None:
    if size > MAX_SIZE:
        raise BudgetExceeded(f"{what} would be larger than {MAX_SIZE:,} characters or items")


def budgeted_iter(iterable: Iterable[Any]) -> Iterable[Any]:
    """`iterable`, looking at the clock every so often (every `for` loop of a template)."""
    check_time()
    if isinstance(iterable, Sized) and len(iterable) <= _CHECK_EVERY:
        return iterable  # the common short loop: one look is enough
    return _chunked(iter(iterable))


def _chunked(items: Iterator[Any]) -> Iterator[Any]:
    while chunk := list(itertools.islice(items, _CHECK_EVERY)):
        yield from chunk
        check_time()


def bounded_concat(parts: Iterable[str]) -> str:
    """`"".join(parts)` that refuses a text over the budget (a template's output, a
    `{% set %}` block, a macro's body). Collecting the parts is bounded by the time
    budget; their length is added up before they are joined."""
    collected = list(parts)
    check_size(sum(map(len, collected)), "the rendered text")
    return "".join(collected)


def written(value: Any) -> Any:
    """`sized(value)`, counted into all the render writes: `{{ }}` values kept in a
    `{% set %}` block or a macro's body are not bounded by the output alone."""
    size = _checked_size(value, "the value")
    render = _current.get()
    if render is not None:
        render[1] += size
        if render[1] > MAX_SIZE:
            check_size(int(render[1]), "the text the template writes")
    return value


def sized(value: Any, what: str = "the value") -> Any:
    """`value`, refused when its text would be too long (before `str()` makes it)."""
    _checked_size(value, what)
    return value


def _checked_size(value: Any, what: str) -> int:
    kind = type(value)  # the common cases first
    if kind is str:
        size = len(value)
    elif kind is int:
        size = value.bit_length() // 3 + 2
    elif value is None or kind is bool or kind is float:
        return 8
    else:
        size = weight(value)
    if size > MAX_SIZE:
        check_size(size, f"the text of {what}")
    return size


def weight(value: Any, limit: int = MAX_SIZE) -> int:
    """About how many characters `str(value)` has, counted up to just past `limit`.

    Shared references make a small structure print huge (`[a, a]` nested 60 deep): a
    container counts each time it appears, but is measured once.
    """
    if type(value) is str:
        return len(value)
    return _weigh(value, {}, 0, limit)


def _weigh(item: Any, memo: dict[int, int], depth: int, limit: int) -> int:
    if isinstance(item, str | bytes | bytearray):
        return len(item) + 2
    if isinstance(item, int):
        return item.bit_length() // 3 + 2
    children = _children(item)
    if children is None:
        return 2
    known = memo.get(id(item))
    if known is not None:
        return known
    if depth > _MAX_DEPTH:
        return limit + 1  # deeper than Python can print anyway
    total = 2 + len(children)
    for child in children:
        total += _weigh(child, memo, depth + 1, limit)
        if total > limit:
            break
    memo[id(item)] = total
    return total


def _children(item: Any) -> Collection[Any] | None:
    """The values a container prints, or None for anything else.

    Only objects that outlive the walk are measured by identity: a mapping's keys and
    values are, the (key, value) pairs its items() makes on the fly are not.
    """
    if isinstance(item, ItemsView):
        return [part for pair in item for part in pair]
    if isinstance(item, list | tuple | set | frozenset | KeysView | ValuesView):
        return item
    if isinstance(item, Mapping):
        return [*item.keys(), *item.values()]
    return _namespace_values(item)


def _namespace_values(item: Any) -> Collection[Any] | None:
    """The values a jinja2 `namespace()` prints, without importing jinja2."""
    if type(item).__name__ != "Namespace":
        return None
    attrs = object.__getattribute__(item, "_Namespace__attrs")
    return _children(attrs) if isinstance(attrs, dict) else None


# --- estimates of results, before they are built ----------------------------------------

_PRINTF = re.compile(
    r"%(?:\((?P<key>[^)]*)\))?[-#0 +]*(?P<width>\*|\d+)?(?:\.(?P<precision>\*|\d*))?"
    r"[hlL]?(?P<type>.?)",
    re.DOTALL,
)
_NUMBER = re.compile(r"\d+")


def printf_size(template: str, values: Any) -> int:
    """An upper bound of the length of `template % values` (just past the budget at most)."""
    remaining = list(reversed(values)) if isinstance(values, tuple) else [values]
    total = len(template)
    for count, match in enumerate(_PRINTF.finditer(template), 1):
        if total > MAX_SIZE:
            break
        if not count % _CHECK_EVERY:
            check_time()
        if match["type"] == "%":
            continue
        if match["key"] is None and match[0] == "%(":
            # No `)` follows, so `%` will fail ("incomplete format key"); reading on
            # would scan the rest again from every later `%(` (quadratic in the text).
            break
        widths = [_printf_number(match[name], remaining) for name in ("width", "precision")]
        key = match["key"]
        if key is not None and isinstance(values, Mapping):
            value = values.get(key)
        else:
            value = remaining.pop() if remaining else None
        total += max(*widths, weight(value))
    return total


def _printf_number(text: str | None, remaining: list[Any]) -> int:
    if text == "*":
        taken = remaining.pop() if remaining else 0
        return abs(taken) if isinstance(taken, int) else 0
    return _number(text) if text else 0


def format_spec_size(spec: str) -> int:
    """The largest width or precision a `str.format` field asks for ("{:>9}" gives 9)."""
    return max((_number(number) for number in _NUMBER.findall(spec)), default=0)


def _number(digits: str) -> int:
    """The value of a run of digits; one too long to convert is past any budget anyway."""
    return int(digits) if len(digits) <= len(str(MAX_SIZE)) else MAX_SIZE + 1
