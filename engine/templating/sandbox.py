"""The sandbox templates run in: jinja2's immutable sandbox, held to a budget.

`engine.templating.budget` says what the budget is; this wires it into jinja2 at every
place a template can spend time or memory:

* every `for` loop looks at the clock, and so does every call and operator;
* every `{{ }}` value and every `~` operand is measured before it becomes text, and
  the text a template (or a `{% set %}` block, or a macro) produces is bounded;
* `*`, `+`, `%` and `**`, the str and bytes methods that pad, repeat or join
  (`center`, `zfill`, `replace`, `join`…), `str.format` widths, `int.to_bytes`,
  and the filters and globals that can multiply a size (`center`, `indent`,
  `wordwrap`, `format`, `join`, `replace`, `tojson`, `batch`, `slice`, `lipsum`)
  are checked before they build their result; the value of every filter that makes
  text of it is measured first.

Imported only when the first template is compiled (it imports jinja2).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from string import Formatter
from typing import Any

from jinja2 import nodes
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedFormatter

from engine.templating.budget import (
    BudgetExceeded,
    bounded_concat,
    budgeted_iter,
    check_size,
    check_time,
    format_spec_size,
    printf_size,
    sized,
    weight,
    written,
)
from engine.templating.guards import checked_result, guard_method, guarded_filter, lipsum

_MAX_INT_BITS = 13_300  # about 4,000 digits: an integer a template may build and print


class BudgetedSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox with a time and size budget (see the module's docstring)."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})
    concat = staticmethod(bounded_concat)

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.filters = {name: guarded_filter(name, f) for name, f in self.filters.items()}
        self.filters.update({_ITERATED: budgeted_iter, _WRITTEN: written, _SIZED: sized})
        self.globals["lipsum"] = lipsum

    def _generate(self, source: nodes.Template, *args: Any, **kwargs: Any) -> str:
        _add_budget_checks(source)
        return super()._generate(source, *args, **kwargs)

    def getitem(self, obj: Any, argument: Any) -> Any:
        check_time()  # how filters read an attribute of each item (map, groupby, sort…)
        return super().getitem(obj, argument)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        check_time()
        check_size(_binop_size(operator, left, right), f"the result of {operator!r}")
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        check_time()
        args = guard_method(__obj, args, kwargs)
        return checked_result(super().call(__context, __obj, *args, **kwargs))

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """`str.format` / `format_map` through a formatter that measures every field."""
        if super().wrap_str_format(value) is None:
            return None
        text: str = value.__self__
        formatter = _BoundedFormatter(self)
        if value.__name__ == "format_map":
            return functools.partial(_format_map, formatter, text)
        return functools.partial(_format, formatter, text)


# --- for loops and output ----------------------------------------------------------------


# jinja2 allows no new node types: the checks are filters with names no template can
# write (a `-` is an operator there), applied to the loop's iterable and to each value.
_ITERATED, _WRITTEN, _SIZED = "budget-iterated", "budget-written", "budget-sized"


def _add_budget_checks(tree: nodes.Template) -> None:
    for loop in list(tree.find_all(nodes.For)):
        loop.iter = _filtered(_ITERATED, loop.iter)
    for output in list(tree.find_all(nodes.Output)):
        output.nodes = [_measured(_WRITTEN, child) for child in output.nodes]
    for concat in list(tree.find_all(nodes.Concat)):
        concat.nodes = [_measured(_SIZED, child) for child in concat.nodes]


def _measured(check: str, node: nodes.Expr) -> nodes.Expr:
    if isinstance(node, nodes.TemplateData | nodes.Const):
        return node  # text of the template itself: already bounded by the file's size
    return _filtered(check, node)


def _filtered(name: str, node: nodes.Node) -> nodes.Expr:
    return nodes.Filter(node, name, [], [], None, None, lineno=node.lineno)


# --- operators -------------------------------------------------------------------------


def _binop_size(operator: str, left: Any, right: Any) -> int:
    """About how large `left <operator> right` would be (0 when it cannot grow)."""
    if operator in ("*", "**") and _is_int(left) and _is_int(right):
        _check_digits(operator, left, right)
        return 0
    if operator == "*":
        return max(_repeat_size(left, right), _repeat_size(right, left))
    if operator == "+" and _is_sequence(left) and _is_sequence(right):
        return int(len(left) + len(right))
    if operator == "%" and isinstance(left, str):
        return printf_size(left, right)
    return 0


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_digits(operator: str, left: int, right: int) -> None:
    """Refuse an integer too long to print (Python writes at most 4,300 digits)."""
    if operator == "**":
        bits = right * abs(left).bit_length() if abs(left) >= 2 else 0
    else:
        bits = left.bit_length() + right.bit_length()
    if bits > _MAX_INT_BITS:
        raise BudgetExceeded(f"the result of {operator!r} would have more than 4,000 digits")


def _repeat_size(sequence: Any, times: Any) -> int:
    if _is_sequence(sequence) and isinstance(times, int):
        return int(len(sequence) * times)
    return 0


def _is_sequence(value: Any) -> bool:
    return isinstance(value, str | bytes | list | tuple)


# --- str.format ------------------------------------------------------------------------


class _BoundedFormatter(SandboxedFormatter):
    """The sandbox's formatter, adding up the size of every field as it goes."""

    def vformat(self, format_string: str, args: Any, kwargs: Any) -> str:
        self.total = len(format_string)
        return super().vformat(format_string, args, kwargs)

    def format_field(self, value: Any, format_spec: str) -> Any:
        check_time()
        self.total += max(format_spec_size(format_spec), weight(value))
        check_size(self.total, "the formatted text")
        return super().format_field(value, format_spec)


def _format(formatter: Formatter, text: str, *args: Any, **kwargs: Any) -> str:
    return type(text)(formatter.vformat(text, args, kwargs))


def _format_map(formatter: Formatter, text: str, *args: Any, **kwargs: Any) -> str:
    if kwargs or len(args) != 1:
        raise TypeError("format_map() takes exactly one argument, no keywords")
    return type(text)(formatter.vformat(text, (), args[0]))
