"""Secrets: where they come from, how they reach a child process, and how they are hidden.

A value loaded here is tracked by origin (RELIABILITY.md #7): the `Redactor` built from
the loaded values scrubs them from terminal output, the ledger, reports and error
messages, also where they occur inside longer text. Secrets reach a child process only
through the `env:` or `stdin:` of the step that uses them, never through argv, which every
local user can read in `ps`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from engine.core.errors import EngineError, ExitCode
from engine.core.regular_file import read_regular_text

if TYPE_CHECKING:
    from engine.model.playbook import SecretSpec


class SecretError(EngineError):
    """A declared secret could not be loaded. The message names its source, never a value."""

    exit_code = ExitCode.USAGE


def load_secrets(
    specs: Mapping[str, SecretSpec], base_dir: Path, environ: Mapping[str, str]
) -> dict[str, str]:
    """Read every declared secret from its environment variable or file.

    A file path is relative to `base_dir` (the playbook's folder); one trailing newline
    is stripped. Every problem is collected and raised as one `SecretError`.
    """
    values: dict[str, str] = {}
    problems: list[str] = []
    for name, spec in specs.items():
        value, problem = _load_one(spec, base_dir, environ)
        if problem:
            problems.append(f"secret '{name}': {problem}")
        else:
            values[name] = value
    if problems:
        raise SecretError(
            "\n".join(problems),
            hint="set the environment variable or create the file before the run",
        )
    return values


def _load_one(spec: SecretSpec, base_dir: Path, environ: Mapping[str, str]) -> tuple[str, str]:
    """Return (value, "") or ("", problem)."""
    if spec.env:
        value = environ.get(spec.env)
        if value is None:
            return "", f"environment variable {spec.env} is not set"
        return (value, "") if value else ("", f"environment variable {spec.env} is empty")
    if spec.file:
        return _read_secret_file(base_dir / Path(spec.file).expanduser())
    return "", "declares neither `env:` nor `file:`"


def _read_secret_file(path: Path) -> tuple[str, str]:
    try:
        text = read_regular_text(path)
    except UnicodeDecodeError:  # its message quotes the offending bytes: keep it out
        return "", f"file {path} is not UTF-8 text"
    except OSError as exc:
        return "", f"cannot read file {path}: {exc.strerror or type(exc).__name__}"
    text = text.removesuffix("\n").removesuffix("\r")
    return (text, "") if text else ("", f"file {path} is empty")
