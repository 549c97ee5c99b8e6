"""Secrets: where they come from, how they reach a child process, and how they are hidden.

A value loaded here is tracked by origin (RELIABILITY.md #7): the `Redactor` built from
the loaded values scrubs them from terminal output, the ledger, reports and error
messages, also where they occur inside longer text. Secrets reach a child process only
through its environment (`secret_env`) or stdin, never through its argv, which every
local user can read in `ps`.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import EngineError, ExitCode
from engine.regular_file import read_regular_text

if TYPE_CHECKING:
    from engine.playbook.model import SecretSpec

ENV_PREFIX = "RUNBOOK_SECRET_"


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


def secret_env(secrets: Mapping[str, str]) -> dict[str, str]:
    """The environment variables that hand secrets to a child process.

    Secret `api_token` becomes `RUNBOOK_SECRET_API_TOKEN`. Commands read secrets from
    there (`"$RUNBOOK_SECRET_API_TOKEN"`), never from their argv.
    """
    return {ENV_PREFIX + name.upper(): value for name, value in secrets.items()}


class Redactor:
    """Replaces every secret value in text with `«redacted:NAME»`.

    Every non-empty value is redacted, however short: a secret of one or two characters
    will blank out those characters wherever they appear, so short secrets make output
    hard to read (and are weak secrets anyway). Besides the raw value, its shell-quoted,
    JSON-escaped and Python-repr forms are redacted, and a longer value wins over a
    shorter one that it contains. Redact whole lines or documents: a value split across
    two separately redacted chunks is not recognised.
    """

    def __init__(self, secrets: Mapping[str, str]) -> None:
        self._names: dict[str, str] = {}  # form of a value -> secret name
        for name, value in secrets.items():
            for form in _forms(value):
                self._names.setdefault(form, name)
        forms = sorted(self._names, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, forms))) if forms else None

    def __bool__(self) -> bool:
        return self._pattern is not None

    def redact(self, text: str) -> str:
        """`text` with every occurrence of every secret (in any form) replaced."""
        if self._pattern is None:
            return text
        return self._pattern.sub(self._replacement, text)

    def redact_data(self, data: Any) -> Any:
        """`redact` applied to every string (keys too) in nested dicts, lists and tuples."""
        if self._pattern is None:
            return data
        if isinstance(data, str):
            return self.redact(data)
        if isinstance(data, Mapping):
            return {self.redact_data(key): self.redact_data(value) for key, value in data.items()}
        if isinstance(data, list):
            return [self.redact_data(item) for item in data]
        if isinstance(data, tuple):
            return tuple(self.redact_data(item) for item in data)
        return data

    def secret_in(self, text: str) -> str | None:
        """The name of a secret occurring in `text`, or None."""
        found = self._pattern.search(text) if self._pattern is not None else None
        return self._names[found.group()] if found else None

    def _replacement(self, match: re.Match[str]) -> str:
        return f"«redacted:{self._names[match.group()]}»"


def _forms(value: str) -> set[str]:
    """The spellings under which a value may show up in output or logs."""
    if not value:
        return set()
    json_forms = {json.dumps(value, ensure_ascii=only_ascii)[1:-1] for only_ascii in (True, False)}
    return {value, shlex.quote(value), repr(value)[1:-1], *json_forms} - {""}
