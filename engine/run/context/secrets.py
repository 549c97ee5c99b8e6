"""Secrets: where they come from, how they reach a child process, and how they are hidden.

A value loaded here is tracked by origin (RELIABILITY.md #7): the `Redactor` built from
the loaded values scrubs them from terminal output, the ledger, reports and error
messages, also where they occur inside longer text. Secrets reach a child process only
through the `env:` or `stdin:` of the step that uses them, never through argv, which every
local user can read in `ps`.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from msgspec import Struct

from engine.core.errors import EngineError, ExitCode
from engine.core.regular_file import read_regular_text
from engine.model.playbook import SecretSpec
from engine.templating.redaction import Redactor

REDACTED_MARK = "«redacted:"  # how the ledger keeps a value that held a secret


class SecretError(EngineError):
    """A declared secret could not be loaded. The message names its source, never a value."""

    exit_code = ExitCode.USAGE


class SecretStatus(Struct, frozen=True):
    """A declared secret as a preview sees it: where a live run reads it, and whether it
    can (`problem` says why not; "" when it is set). Never its value."""

    name: str
    source: str  # "env API_TOKEN" or "file ./token"
    problem: str = ""


def load_secrets(
    specs: Mapping[str, SecretSpec], base_dir: Path, environ: Mapping[str, str]
) -> dict[str, str]:
    """Read every declared secret from its environment variable or file.

    A file path is relative to `base_dir` (the playbook's folder); one trailing newline
    is stripped. Every problem is collected and raised as one `SecretError`.
    """
    values, statuses = read_secrets(specs, base_dir, environ)
    missing = [status for status in statuses if status.problem]
    if missing:
        raise SecretError(
            "\n".join(f"secret '{status.name}': {status.problem}" for status in missing),
            hint="set the environment variable or create the file before the run",
        )
    return values


def read_secrets(
    specs: Mapping[str, SecretSpec], base_dir: Path, environ: Mapping[str, str]
) -> tuple[dict[str, str], list[SecretStatus]]:
    """The values of the secrets that can be read, and the status of every one."""
    values: dict[str, str] = {}
    statuses: list[SecretStatus] = []
    for name, spec in specs.items():
        value, problem = _load_one(spec, base_dir, environ)
        statuses.append(SecretStatus(name, _source(spec), problem))
        if not problem:
            values[name] = value
    return values, statuses


def preview_secrets(
    specs: Mapping[str, SecretSpec], base_dir: Path, environ: Mapping[str, str]
) -> tuple[dict[str, str], dict[str, str], list[SecretStatus]]:
    """For a preview (plan, dry run), which changes nothing and so needs no secret: the
    values that are set (to be redacted), placeholders for those that are not (shown as
    they are), and the status of every one."""
    values, statuses = read_secrets(specs, base_dir, environ)
    placeholders = {s.name: missing_secret_placeholder(s.name) for s in statuses if s.problem}
    return values, placeholders, statuses


def read_needed_secrets(
    specs: Mapping[str, SecretSpec],
    needed: Collection[str],
    base_dir: Path,
    environ: Mapping[str, str],
) -> tuple[dict[str, str], dict[str, str], list[SecretStatus]]:
    """For a run that reads only the `needed` secrets (a rollback: those its undos read):
    the values that are set (every one, to be redacted), placeholders for the needed ones
    that are not (such a run shows its plan, then is refused: `require_secrets`), and the
    status of each needed one. A secret neither needed nor set is left out: a template
    that read it would fail, never run with a placeholder."""
    values, statuses = read_secrets(specs, base_dir, environ)
    wanted = [status for status in statuses if status.name in needed]
    placeholders = {s.name: missing_secret_placeholder(s.name) for s in wanted if s.problem}
    return values, placeholders, wanted


def require_secrets(statuses: Sequence[SecretStatus], needed_by: str, hint: str) -> None:
    """SecretError (exit 2) naming each secret of `statuses` that is not set, and why,
    under `needed_by`: what reads them ("--probe runs …, which need the secrets")."""
    missing = [status for status in statuses if status.problem]
    if missing:
        names = "\n".join(f"secret '{status.name}': {status.problem}" for status in missing)
        raise SecretError(f"{needed_by}:\n{names}", hint=hint)


def declared_secrets(declared: Any) -> dict[str, SecretSpec]:
    """The `secrets:` of a playbook's data as written (a recorded playbook's text, read
    without the playbook's checks): each name with its `env:` or `file:`; anything else
    is left out."""
    if not isinstance(declared, Mapping):
        return {}
    specs: dict[str, SecretSpec] = {}
    for name, spec in declared.items():
        if isinstance(spec, Mapping):
            env, file = spec.get("env"), spec.get("file")
            specs[str(name)] = SecretSpec(
                str(name),
                env if isinstance(env, str) else None,
                file if isinstance(file, str) else None,
            )
    return specs


def secrets_scrubber(
    specs: Mapping[str, SecretSpec],
    base_dir: Path,
    environ: Mapping[str, str],
    known: Mapping[str, str] | None = None,
) -> Redactor:
    """A redactor of every declared secret whose value can be read here and now, without
    executing anything or contacting another host (an environment variable, a file
    relative to `base_dir`): in any form the `Redactor` knows (as given, base64,
    URL-encoded, …). A secret not set here is skipped: text from outside a run (an
    alert's labels, a record written out) is scrubbed of the secrets this process can
    know. `known`: other values to redact beside, by the name their mark shows."""
    return declared_scrubber([(specs, base_dir)], environ, known)[0]


# The secrets one playbook declares, and the folder its `file:` secrets are read from.
Declaration = tuple[Mapping[str, SecretSpec], Path]


def declared_scrubber(
    declarations: Sequence[Declaration],
    environ: Mapping[str, str],
    known: Mapping[str, str] | None = None,
) -> tuple[Redactor, list[SecretStatus]]:
    """The one scrub of text from outside a run (a bundle, a regression case, a
    postmortem): a redactor of every secret the playbooks declare whose value can be read
    here and now (`secrets_scrubber`), and the status of each declaration in order (its
    `problem` says why one was not read, and so is not looked for). A name declared with
    other values by several playbooks is redacted under `NAME#2`, `NAME#3`…"""
    values: dict[str, str] = dict(known or {})
    statuses: list[SecretStatus] = []
    for specs, base_dir in declarations:
        found, read = read_secrets(specs, base_dir, environ)
        statuses += read
        for name, value in found.items():
            if value not in values.values():
                values[_free_name(name, values)] = value
    return Redactor(values), statuses


# A run's inputs as the ledger recorded them, and as its alert's decision gave them.
GivenInputs = tuple[Mapping[str, Any], Mapping[str, Any]]


def held_secrets(runs: Iterable[GivenInputs]) -> dict[str, str]:
    """The value an alert's decision gave to each input the ledger kept redacted, by
    input name (`NAME#2` for another value under the same name), each value once: the
    alert's body, kept as it arrived, holds it where a label gave it, even when the
    secret itself cannot be read here. Pass them to `declared_scrubber` as `known`."""
    values: dict[str, str] = {}
    for recorded, given in runs:
        for name, value in recorded.items():
            held = str(given.get(name) or "")
            if held and held not in values.values() and _is_redacted(value):
                values[_free_name(name, values)] = held
    return values


def _is_redacted(value: Any) -> bool:
    return REDACTED_MARK in json.dumps(value, ensure_ascii=False, default=str)


def _free_name(name: str, taken: Mapping[str, str]) -> str:
    """`name`, or `name#2`, `name#3`… when it is taken by another value."""
    number = 1
    free = name
    while free in taken:
        number += 1
        free = f"{name}#{number}"
    return free


def missing_secret_placeholder(name: str) -> str:
    """What a preview renders in place of a secret that is not set."""
    return f"«secret:{name} (not set)»"


def _source(spec: SecretSpec) -> str:
    if spec.env:
        return f"env {spec.env}"
    return f"file {spec.file}" if spec.file else "nowhere"


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
