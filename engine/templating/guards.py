"""Size checks of the calls a template makes: str, bytes and int methods, filters, and
the `lipsum` global. Each that can multiply a size says how large its result would be
before it is built (`engine.templating.sandbox` calls them; see its docstring)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sized
from types import BuiltinMethodType
from typing import Any

from jinja2.utils import _PassArg, generate_lorem_ipsum

from engine.templating.budget import (
    MAX_SIZE,
    budgeted_iter,
    check_size,
    check_time,
    printf_size,
    sized,
    weight,
)

_JSON_DEPTH = 8  # levels of indentation assumed for a line of indented JSON
_LIPSUM_WORD = 12  # characters a lorem-ipsum word takes at most, with its separator


# --- methods -------------------------------------------------------------------------------


def guard_method(method: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> tuple[Any, ...]:
    """Check a str, bytes or int method that can build a large result; the arguments
    to call it with (an iterable given to `join` is read once, here)."""
    if not isinstance(method, BuiltinMethodType):
        return args
    owner = method.__self__
    name = method.__name__
    if isinstance(owner, str | bytes | bytearray) and name in _TEXT_METHODS:
        return _TEXT_METHODS[name](owner, args, kwargs)
    if isinstance(owner, int) and name == "to_bytes":
        check_size(_int_arg(args, kwargs, 0, "length", 1), "the result of int.to_bytes()")
    return args


Guard = Callable[[Any, tuple[Any, ...], Mapping[str, Any]], tuple[Any, ...]]


def _pad(text: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> tuple[Any, ...]:
    check_size(_int_arg(args, kwargs, 0, "width", 0), "the padded text")
    return args


def _expandtabs(text: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> tuple[Any, ...]:
    tab = "\t" if isinstance(text, str) else b"\t"
    size = _int_arg(args, kwargs, 0, "tabsize", 8)
    check_size(len(text) + text.count(tab) * size, "the text with tabs expanded")
    return args


def _replace(text: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> tuple[Any, ...]:
    if len(args) >= 2:
        count = _int_arg(args, kwargs, 2, "count", -1)
        check_size(_replaced_size(text, args[0], args[1], count), "the replaced text")
    return args


def _join(separator: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> tuple[Any, ...]:
    if not args:
        return args
    items = list(budgeted_iter(args[0]))
    size = sum(weight(item) for item in items) + len(separator) * len(items)
    check_size(size, "the joined text")
    return (items, *args[1:])


def _translate(text: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> tuple[Any, ...]:
    table = args[0] if args else None
    if isinstance(table, Mapping):
        longest = max((weight(value) for value in table.values()), default=1)
        check_size(len(text) * longest, "the translated text")
    return args


_TEXT_METHODS: dict[str, Guard] = {
    "center": _pad,
    "ljust": _pad,
    "rjust": _pad,
    "zfill": _pad,
    "expandtabs": _expandtabs,
    "replace": _replace,
    "join": _join,
    "translate": _translate,
}


def _replaced_size(text: Any, old: Any, new: Any, count: int) -> int:
    if not (isinstance(old, str | bytes) and isinstance(new, str | bytes)):
        return 0
    found = len(text) + 1 if not old else text.count(old)
    if count >= 0:
        found = min(found, count)
    return int(len(text) + found * max(0, len(new) - len(old)))


def _int_arg(
    args: tuple[Any, ...], kwargs: Mapping[str, Any], index: int, name: str, default: int
) -> int:
    value = args[index] if len(args) > index else kwargs.get(name, default)
    return value if isinstance(value, int) else default


def checked_result(result: Any) -> Any:
    if isinstance(result, str | bytes | list | tuple) and len(result) > MAX_SIZE:
        check_size(len(result), "the result of the call")
    return result


# --- filters and globals ----------------------------------------------------------------


def guarded_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """`function` (a filter), measuring its value first and checking the size of what
    it would build when it can multiply it (`center`, `indent`, `join`…)."""
    skip = 1 if _PassArg.from_obj(function) else 0  # context or environment first
    estimate = _FILTER_SIZES.get(name)
    what = f"the value given to |{name}"
    measure = name not in _NOT_PRINTING

    iterated = name in _ITERATING

    @functools.wraps(function)  # keeps jinja2's pass_context marks
    def guarded(*args: Any, **kwargs: Any) -> Any:
        check_time()
        if measure and len(args) > skip:
            sized(args[skip], what)
        if estimate is not None:
            args = (*args[:skip], *estimate(list(args[skip:]), kwargs))
        if iterated and len(args) > skip and not isinstance(args[skip], Mapping):
            args = (*args[:skip], budgeted_iter(args[skip]), *args[skip + 1 :])
        return checked_result(function(*args, **kwargs))

    return guarded


FilterGuard = Callable[[list[Any], Mapping[str, Any]], list[Any]]

# Filters that pick, count or reorder items without making text of them: their value
# may be a long list (what they return is still checked).
# Filters that walk their whole value in Python: a long one is fed to them in chunks,
# with a look at the clock between two.
_ITERATING = frozenset(
    {"groupby", "map", "max", "min", "reject", "rejectattr", "select", "selectattr", "sort",
     "sum", "unique"}
)  # fmt: skip
_NOT_PRINTING = frozenset(
    {"attr", "batch", "count", "d", "default", "dictsort", "first", "groupby", "items",
     "last", "length", "list", "map", "max", "min", "random", "reject", "rejectattr",
     "reverse", "select", "selectattr", "slice", "sort", "sum", "unique"}
)  # fmt: skip


def _center_size(args: list[Any], kwargs: Mapping[str, Any]) -> list[Any]:
    check_size(_int_arg(tuple(args), kwargs, 1, "width", 80), "the centred text")
    return args


def _indent_size(args: list[Any], kwargs: Mapping[str, Any]) -> list[Any]:
    text = str(args[0]) if args else ""
    width = args[1] if len(args) > 1 else kwargs.get("width", 4)
    per_line = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
    check_size(len(text) + per_line * (text.count("\n") + 1), "the indented text")
    return args


def _wordwrap_size(args: list[Any], kwargs: Mapping[str, Any]) -> list[Any]:
    text = str(args[0]) if args else ""
    wrap = args[3] if len(args) > 3 else kwargs.get("wrapstring")
    newline = len(wrap) if isinstance(wrap, str) else 1
    check_size(len(text) + newline * (len(text) + 1), "the wrapped text")  # a line a character
    return args


def _format_size(args: list[Any], kwargs: Mapping[str, Any]) -> list[Any]:
    if args and isinstance(args[0], str):
        check_size(printf_size(args[0], dict(kwargs) or tuple(args[1:])), "the formatted text")
    return args


def _join_size(args: list[Any], kwargs: Mapping[str, Any]) -> list[Any]:
    if not args:
        return args
    items = list(budgeted_iter(args[0]))
    separator = args[1] if len(args) > 1 else kwargs.get("d", "")
    size = sum(weight(item) for item in items) + weight(separator) * len(items)
    check_size(size, "the joined text")
    return [items, *args[1:]]


def _replace_size(args: list[Any], kwargs: Mapping[str, Any]) -> list[Any]:
    if len(args) >= 3:
        count = args[3] if len(args) > 3 else kwargs.get("count")
        limit = count if isinstance(count, int) else -1
        check_size(_replaced_size(str(args[0]), args[1], args[2], limit), "the replaced text")
    return args


def _tojson_size(args: list[Any], kwargs: Mapping[str, Any]) -> list[Any]:
    """json.dumps builds its indent string first, and repeats it on every line."""
    indent = args[1] if len(args) > 1 else kwargs.get("indent")
    per_line = len(indent) if isinstance(indent, str) else indent if isinstance(indent, int) else 0
    if per_line:
        lines = weight(args[0]) if args else 1
        check_size(abs(per_line) * lines * _JSON_DEPTH, "the indented JSON")
    return args


def _sum_size(args: list[Any], kwargs: Mapping[str, Any]) -> list[Any]:
    """Adding up lists copies the growing total once per item: quadratic."""
    start = args[2] if len(args) > 2 else kwargs.get("start", 0)
    if args and isinstance(start, list | tuple | str) and isinstance(args[0], list | tuple):
        sizes = [len(item) for item in args[0] if isinstance(item, Sized)]
        check_size(len(sizes) * (sum(sizes) + len(start)) // 8, "the copies |sum makes")
    return args


def _count_at(index: int, name: str, what: str) -> FilterGuard:
    def check(args: list[Any], kwargs: Mapping[str, Any]) -> list[Any]:
        check_size(abs(_int_arg(tuple(args), kwargs, index, name, 0)), what)
        return args

    return check


_FILTER_SIZES: dict[str, FilterGuard] = {
    "center": _center_size,
    "indent": _indent_size,
    "wordwrap": _wordwrap_size,
    "format": _format_size,
    "join": _join_size,
    "replace": _replace_size,
    "tojson": _tojson_size,
    "sum": _sum_size,
    "batch": _count_at(1, "linecount", "a batch"),
    "slice": _count_at(1, "slices", "the slices"),
}


def lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    """jinja2's `lipsum`, refused when it would write too much."""
    words = abs(n) * abs(max) if isinstance(n, int) and isinstance(max, int) else 0
    check_size(words * _LIPSUM_WORD, "the lorem ipsum")
    return generate_lorem_ipsum(n, html, min, max)
