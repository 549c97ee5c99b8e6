"""The template sandbox: playbook strings are Jinja2 templates, everything else is data.

Only strings from the playbook are compiled. Inputs, secrets, alert labels and step output
are variables: rendered once into the result and never parsed again, so a value
`{{ 7*7 }}` arrives as those eight characters (RELIABILITY.md #1). Templates run in an
`ImmutableSandboxedEnvironment` with `StrictUndefined`: a missing value is an error, never
an empty string. jinja2 is imported on first use, so importing this module is cheap.
"""

from __future__ import annotations

import contextvars
import difflib
import functools
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from msgspec import Struct

from engine.core.errors import EngineError, ExitCode
from engine.core.shellsyntax import SLOT, ShellCommand, Unsafe, analyse, compose
from engine.templating import budget as template_budget
from engine.templating.redaction import Redactor

if TYPE_CHECKING:
    from jinja2 import Environment, Template
    from jinja2.environment import TemplateExpression
    from jinja2.nodes import Node

Reference = tuple[str, ...]

_TEXT, _SHELL, _ARGUMENT = "text", "shell", "argument"
_CACHE_SIZE = 1024
_MAX_MESSAGE = 500  # characters of an error message; a value in it can be far longer
_NOT_VARIABLES = frozenset({"loop", "caller", "varargs", "kwargs", "self"})
# The secrets of the renderer whose `shell()` or `argv()` is running (the environment is
# shared), and the values `shell()` has taken out of the script so far.
_shell_secrets: contextvars.ContextVar[Redactor | None] = contextvars.ContextVar(
    "_shell_secrets", default=None
)
_shell_values: contextvars.ContextVar[list[str]] = contextvars.ContextVar("_shell_values")
_SYNTAX_HINT = (
    "values are written {{ name }}, logic {% if x %}…{% endif %}; a literal {{ is {{ '{{' }}"
)
# Jinja's comments (`{# … #}`) are switched off: in shell `${#X}`, `{#` and `#}` are text,
# and a comment would silently delete everything between them. No template can open one:
# the delimiters hold a NUL, and a template holding one is refused (`_compile`).
COMMENT_START, COMMENT_END = "\0{#\0", "\0#}\0"
_LONG_NUMBER_HINT = "numbers in templates have at most 4,000 digits; quote it if it is text"
_SANDBOX_HINT = "templates may only read values; names starting with '_' are off-limits"
_ROOT_HINTS = {
    "inputs": "declare it under `inputs:`, or pass it with -i NAME=VALUE",
    "secrets": "declare it under `secrets:` with `env:` or `file:`",
    "steps": "a step's result exists only after that step ran; check the step id",
    "captures": "a capture exists only after the step with that `capture:` succeeded",
    "alert": "the alert does not carry it; test `is defined` or use `| default(...)`",
}


class RenderError(EngineError):
    """A template that cannot be rendered: bad syntax, undefined variable, sandbox refusal."""

    exit_code = ExitCode.USAGE


def _template_problems() -> tuple[type[BaseException], ...]:
    """Exceptions a template can cause, turned into RenderError.

    Anything else comes from a variable's own code (such as a dry-run placeholder that
    cannot be known yet) and propagates unchanged.
    """
    from jinja2 import TemplateError

    return (TemplateError, ArithmeticError, AttributeError, LookupError, MemoryError,
            RuntimeError, TypeError, ValueError, AssertionError,  # jinja2 asserts (truncate)
            template_budget.BudgetExceeded)  # fmt: skip


class TemplateRenderer:
    """Renders playbook strings against one run's variables (steps' `Renderer`)."""

    def __init__(self, variables: Mapping[str, Any], *, redactor: Redactor | None = None) -> None:
        """`variables`: the namespaces templates read (inputs, secrets, steps, alert, run…).

        Error messages are redacted with `redactor`, by default one built from the
        `secrets` namespace.
        """
        self.variables = variables
        self.redactor = redactor if redactor is not None else Redactor(_secret_values(variables))

    def text(self, template: str) -> str:
        """`template` rendered as plain text."""
        return self._render(_TEXT, template)

    def shell(self, template: str) -> ShellCommand:
        """`template` rendered for `/bin/sh -c`, its values kept out of the script: each
        `{{ }}` becomes a reference to an environment variable that holds the value
        (`engine.core.shellsyntax`), so no value is ever read as code, however the author
        quoted it. A template where no reference is safe (inside '…', a here-document,
        the script of `sh -c`…) is refused.

        A value starting with '-' is refused (quoting cannot stop option injection), and
        so is a secret: commands read secrets from `env:` instead.
        """
        if _is_literal(template):
            return ShellCommand(template)
        _refuse_filter_blocks(template)
        values: list[str] = []
        secrets, taken = _shell_secrets.set(self.redactor), _shell_values.set(values)
        try:
            slotted = self._render(_SHELL, template)
        finally:
            _shell_secrets.reset(secrets)
            _shell_values.reset(taken)
        return _shell_command(slotted, values)

    def argv(self, parts: Sequence[str]) -> list[str]:
        """An argv list rendered element by element. A value starting with '-' is
        refused, as in a command string, until an element `--` ends the options."""
        token = _shell_secrets.set(self.redactor)
        try:
            rendered: list[str] = []
            kind = _ARGUMENT
            for part in parts:
                rendered.append(self._render(kind, part))
                kind = _TEXT if part == "--" else kind
            return rendered
        finally:
            _shell_secrets.reset(token)

    def value(self, data: Any) -> Any:
        """Render every string in nested dicts (values only), lists and tuples."""
        if isinstance(data, str):
            return self.text(data)
        if isinstance(data, Mapping):
            return {key: self.value(item) for key, item in data.items()}
        if isinstance(data, list):
            return [self.value(item) for item in data]
        if isinstance(data, tuple):
            return tuple(self.value(item) for item in data)
        return data

    def _render(self, kind: str, template: str) -> str:
        if _is_literal(template):
            return template
        budget = template_budget.start()
        try:
            return _compile(kind, template).render(self.variables)
        except _template_problems() as exc:
            refs = functools.partial(template_references, template)
            raise _failure(exc, refs, self.variables, self.redactor) from None
        finally:
            template_budget.stop(budget)


def _is_literal(template: str) -> bool:
    """True when Jinja would give `template` back unchanged: every construct (`{{`, `{%`)
    starts with a brace, no line statements are defined, trailing newlines are kept,
    and only a carriage return would be rewritten (to the environment's newline)."""
    return "{" not in template and "\r" not in template


class Condition(Struct, frozen=True):
    """A compiled `when:` expression."""

    source: str
    compiled: TemplateExpression

    def evaluate(self, variables: Mapping[str, Any]) -> bool:
        """The truth of the expression for these variables."""
        budget = template_budget.start()
        try:
            return bool(self.compiled(variables))
        except _template_problems() as exc:
            refs = functools.partial(condition_references, self.source)
            redactor = Redactor(_secret_values(variables))
            raise _failure(exc, refs, variables, redactor) from None
        finally:
            template_budget.stop(budget)


@functools.lru_cache(maxsize=_CACHE_SIZE)
def compile_condition(expr: str) -> Condition:
    """Compile a `when:` expression (a bare Jinja expression, no `{{ }}`)."""
    if expr.strip().startswith("{{"):
        raise RenderError(
            "a `when:` condition is an expression, not a template",
            hint="write `when: inputs.force`, without {{ }}",
        )
    try:
        compiled = _environment(_TEXT).compile_expression(expr, undefined_to_none=False)
    except _template_problems() as exc:
        raise _compile_failure(exc) from None
    return Condition(expr, compiled)


def evaluate_condition(expr: str, variables: Mapping[str, Any]) -> bool:
    """Compile (cached) and evaluate a `when:` expression."""
    return compile_condition(expr).evaluate(variables)


def template_references(template: str) -> set[Reference]:
    """The dotted paths a template reads from its variables, found without rendering.

    `{{ inputs.profile }} {{ steps.check['stdout'] }}` gives {("inputs", "profile"),
    ("steps", "check", "stdout")}. A method call reports its object
    (`inputs.name.upper()` gives ("inputs", "name")); a dynamic subscript ends the path.
    Names bound inside the template (`set`, `for`, macro parameters, `loop`) and the
    sandbox's global functions (`range`…) are not reported.
    """
    try:
        tree = _environment(_TEXT).parse(template)
    except _template_problems() as exc:
        raise _compile_failure(exc) from None
    return _references(tree)


def condition_references(expr: str) -> set[Reference]:
    """`template_references` for a `when:` expression."""
    from jinja2.parser import Parser

    try:
        parser = Parser(_environment(_TEXT), expr, state="variable")
        tree = parser.parse_expression()
        if not parser.stream.eos:
            parser.fail("unexpected text after the expression", parser.stream.current.lineno)
    except _template_problems() as exc:
        raise _compile_failure(exc) from None
    return _references(tree)


# --- the environments -----------------------------------------------------------------


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _compile(kind: str, source: str) -> Template:
    """The compiled template, cached per (environment, source) string."""
    if "\0" in source:
        raise RenderError(
            "a template holds a NUL character",
            hint="no command, header or file name can hold one; remove it",
        )
    try:
        return _environment(kind).from_string(source)
    except _template_problems() as exc:
        raise _compile_failure(exc) from None


@functools.cache
def _environment(kind: str) -> Environment:
    from jinja2 import StrictUndefined

    finalize = {_SHELL: _shell_slot, _ARGUMENT: _argument}.get(kind)
    return _bounded_sandbox()(
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        finalize=finalize,
        comment_start_string=COMMENT_START,
        comment_end_string=COMMENT_END,
    )


@functools.cache
def _bounded_sandbox() -> type[Environment]:
    """The immutable sandbox, held to a time and size budget (`sandbox`): jinja2 is loaded
    by the first template rendered, never by a run without one."""
    from engine.templating.sandbox import BudgetedSandbox

    return BudgetedSandbox


# --- values in commands ------------------------------------------------------------


def _shell_slot(value: Any) -> str:
    """The `finalize` hook of the shell environment: the value is kept aside and the
    script gets a SLOT, which `_shell_command` replaces by a reference to it (and checks
    for a leading '-', which a `--` before it allows)."""
    text = _checked_value(value, None)
    if SLOT in text:
        raise RenderError(
            "a value of this command went through a `{% set %}` or `{% filter %}` block",
            hint="in a command, write each value with {{ }} where it is used",
        )
    _shell_values.get().append(text)  # set by TemplateRenderer.shell, the only caller
    return SLOT


def _argument(value: Any) -> str:
    """The `finalize` hook of argv elements: the value itself, checked."""
    return _checked_value(value, "an argv list")


def _checked_value(value: Any, dashed_in: str | None) -> str:
    """The value as text; a secret is refused, and so is a leading '-' in `dashed_in`."""
    text = str(value)
    if dashed_in is not None and text.startswith("-"):
        raise _dashed(dashed_in)
    redactor = _shell_secrets.get()
    secret = redactor.secret_in(text) if redactor is not None else None
    if secret is not None:
        raise RenderError(
            f"secret '{secret}' would appear on a command line, visible to every local user",
            hint=f"pass it in `env:` (e.g. TOKEN: '{{{{ secrets.{secret} }}}}') and use \"$TOKEN\""
            " in the command",
        )
    return text


def _dashed(where: str) -> RenderError:
    return RenderError(
        f"a value inserted into {where} starts with '-' and would be read as an option",
        hint="put `--` before the value (an argv element `--`, or `-- {{ x }}` in a command "
        "string), or constrain it with a `pattern:`",
    )


def _shell_command(slotted: str, values: list[str]) -> ShellCommand:
    if slotted.count(SLOT) != len(values):  # a filter or `set` moved or dropped a value
        raise RenderError(
            "a value of this command went through a filter block or `{% set %}`",
            hint="in a command, write each value with {{ }} where it is used",
        )
    command = compose(slotted, values)
    if isinstance(command, Unsafe):
        raise unsafe_error(command)
    dashed = (i for i, value in enumerate(values) if value.startswith("-"))
    if any(i not in analyse(slotted).after_options for i in dashed):
        raise _dashed("a shell command")
    return command


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _refuse_filter_blocks(template: str) -> None:
    """A `{% filter %}` block would apply to the text of a command but not to its values
    (they are not in the text): the command would differ from the one written."""
    from jinja2 import nodes

    try:
        tree = _environment(_SHELL).parse(template)
    except _template_problems():
        return  # the render reports it
    if next(tree.find_all(nodes.FilterBlock), None) is not None:
        raise RenderError(
            "a command cannot use a `{% filter %}` block: its values are not in its text",
            hint="apply the filter to each value instead: {{ inputs.name | upper }}",
        )


def unsafe_error(unsafe: Unsafe) -> RenderError:
    """A template the engine cannot hand to the shell as data, with how to write it."""
    return RenderError(f"a template {unsafe.where}: its value could run as code", unsafe.hint)


# --- errors ----------------------------------------------------------------------------


def _failure(
    exc: BaseException,
    references: Callable[[], set[Reference]],
    variables: Mapping[str, Any],
    redactor: Redactor,
) -> RenderError:
    """`exc` as a RenderError whose message and hint contain no secret value, and no
    value of a million characters either (shortened after redaction, never before)."""
    error = exc if isinstance(exc, RenderError) else _translate(exc, references, variables)
    return RenderError(_short(redactor.redact(error.message)), redactor.redact(error.hint))


def _short(message: str) -> str:
    if len(message) <= _MAX_MESSAGE:
        return message
    return f"{message[:_MAX_MESSAGE]}… ({len(message):,} characters)"


def _translate(
    exc: BaseException, references: Callable[[], set[Reference]], variables: Mapping[str, Any]
) -> RenderError:
    from jinja2.exceptions import SecurityError, TemplateSyntaxError, UndefinedError

    if isinstance(exc, SecurityError | template_budget.BudgetExceeded):
        hint = getattr(exc, "hint", _SANDBOX_HINT)
        return RenderError(f"the template sandbox refused: {exc}", hint)
    if isinstance(exc, UndefinedError):
        return _undefined(exc, references, variables)
    if isinstance(exc, TemplateSyntaxError):
        return _compile_failure(exc)
    return RenderError(
        f"the template failed: {type(exc).__name__}: {exc}",
        hint="check the operations and filters the template applies to its values",
    )


def _compile_failure(exc: BaseException) -> RenderError:
    from jinja2 import TemplateSyntaxError

    if isinstance(exc, TemplateSyntaxError):
        where = f" (line {exc.lineno})" if exc.lineno else ""
        return RenderError(f"template syntax error{where}: {exc.message or exc}", _SYNTAX_HINT)
    if isinstance(exc, ValueError) and "digits" in str(exc):  # Python reads 4,300 at most
        return RenderError("the template holds a number too long to read", _LONG_NUMBER_HINT)
    return RenderError(f"the template cannot be compiled: {type(exc).__name__}", _SYNTAX_HINT)


def _undefined(
    exc: BaseException, references: Callable[[], set[Reference]], variables: Mapping[str, Any]
) -> RenderError:
    """Name the first path the template reads that the variables do not have."""
    for path in sorted(references()):
        missing = _first_missing(path, variables)
        if missing is not None:
            name = ".".join(missing)
            return RenderError(f"undefined variable '{name}'", _undefined_hint(missing, variables))
    return RenderError(f"undefined value: {exc}", "check the names the template reads")


def _first_missing(path: Reference, variables: Mapping[str, Any]) -> Reference | None:
    current: Any = variables
    for depth, key in enumerate(path):
        found, current = _child(current, key)
        if not found:
            return path[: depth + 1]
    return None


def _child(parent: Any, key: str) -> tuple[bool, Any]:
    """Look a key up the way Jinja does: item of a mapping, else a public attribute."""
    if isinstance(parent, Mapping):
        try:
            return True, parent[key]
        except KeyError:
            pass
    if not key.startswith("_") and hasattr(parent, key):
        return True, getattr(parent, key)
    return False, None


def _undefined_hint(missing: Reference, variables: Mapping[str, Any]) -> str:
    parent: Any = variables
    for key in missing[:-1]:
        parent = _child(parent, key)[1]
    known = sorted(map(str, parent)) if isinstance(parent, Mapping) else []
    close = difflib.get_close_matches(missing[-1], known, n=1)
    guess = f"did you mean '{'.'.join((*missing[:-1], close[0]))}'? " if close else ""
    if len(missing) == 1:
        return guess + f"templates can read: {', '.join(known) or 'nothing here'}"
    no_key = f"'{'.'.join(missing[:-1])}' has no such key"
    if missing[0] == "steps" and len(missing) == 3:
        return guess + "a step's result has status, exit_code, stdout and value"
    if missing[0] == "steps" and len(missing) > 3:
        return guess + no_key
    return guess + _ROOT_HINTS.get(missing[0], no_key)


# --- static references -----------------------------------------------------------------


def _references(tree: Node) -> set[Reference]:
    found: set[Reference] = set()
    bound: set[str] = set()
    _collect(tree, found, bound)
    ignored = bound | _NOT_VARIABLES | set(_environment(_TEXT).globals)
    return {path for path in found if path[0] not in ignored}


def _collect(node: Node, found: set[Reference], bound: set[str]) -> None:
    from jinja2 import nodes

    path = _path_of(node)
    if path is not None:
        found.add(path)
        return
    if isinstance(node, nodes.Name | nodes.Macro):  # a Name here is stored, not read
        bound.add(node.name)
    children = list(node.iter_child_nodes())
    if isinstance(node, nodes.Call) and isinstance(node.node, nodes.Getattr):
        children = [node.node.node, *node.iter_child_nodes(exclude=("node",))]  # method call
    for child in children:
        _collect(child, found, bound)


def _path_of(node: Node) -> Reference | None:
    """The dotted path of a plain variable read (`a.b['c']`), else None."""
    from jinja2 import nodes

    if isinstance(node, nodes.Name):
        return (node.name,) if node.ctx == "load" else None
    if isinstance(node, nodes.Getattr):
        inner = _path_of(node.node)
        return None if inner is None else (*inner, node.attr)
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
        inner = _path_of(node.node)
        key = node.arg.value
        return None if inner is None or not isinstance(key, str) else (*inner, key)
    return None


def _secret_values(variables: Mapping[str, Any]) -> dict[str, str]:
    secrets = variables.get("secrets")
    if not isinstance(secrets, Mapping):
        return {}
    return {str(name): value for name, value in secrets.items() if isinstance(value, str)}
