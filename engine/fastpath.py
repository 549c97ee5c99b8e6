"""`runbook run PLAYBOOK [options]` parsed without click, for the commonest command.

Importing click costs about 12 ms, a tenth of a 10-step run. This parser knows only the
plain forms of `runbook run`'s options and returns None for anything else: `--help`,
`--dry-run`, a missing or unreadable playbook, an unknown or repeated option, a value
that starts with `-`, joined short options, `--`, or `RUNBOOK_INVENTORY` being set.
Then the click command (`engine.cli.app`) parses the same arguments and owns the help and
the error messages. Where both parse, they agree: a property test compares them.
"""

from __future__ import annotations

import os
from typing import TypedDict

_FLAGS = {"--yes": "assume_yes", "-y": "assume_yes", "--force": "force"}
_FLAGS |= {"--quiet": "quiet", "-q": "quiet"}
_VALUES = {"--input": "inputs", "-i": "inputs", "--inventory": "inventory"}
_VALUES |= {"--output": "output", "-o": "output", "--wait-lock": "wait_lock"}
_OUTPUTS = ("text", "json")


class RunArguments(TypedDict):
    """`runbook run`'s parameters, as click gives them to the command (a TypedDict:
    nothing to build at start-up but a dict)."""

    playbook: str
    inputs: tuple[str, ...]
    inventory: str | None
    assume_yes: bool
    force: bool
    quiet: bool
    output: str
    wait_lock: str | None


def parse_run(argv: list[str]) -> RunArguments | None:
    """`argv` without the program name; None unless it is a plain `run` command line."""
    if argv[:1] != ["run"] or "RUNBOOK_INVENTORY" in os.environ:
        return None
    flags: set[str] = set()
    values: dict[str, str] = {}
    inputs: list[str] = []
    positional: list[str] = []
    args = iter(argv[1:])
    for arg in args:
        if not arg.startswith("-") or arg == "-":
            positional.append(arg)
            continue
        name, joined, value = arg.partition("=")
        if name in _FLAGS and not joined and _FLAGS[name] not in flags:
            flags.add(_FLAGS[name])
            continue
        if name not in _VALUES or (joined and not name.startswith("--")):
            return None
        value = value if joined else next(args, "-")
        key = _VALUES[name]
        if not _acceptable(key, value) or key in values:
            return None
        if key == "inputs":
            inputs.append(value)
        else:
            values[key] = value
    if len(positional) != 1 or not _readable_file(positional[0]):
        return None
    return RunArguments(
        playbook=positional[0],
        inputs=tuple(inputs),
        inventory=values.get("inventory"),
        assume_yes="assume_yes" in flags,
        force="force" in flags,
        quiet="quiet" in flags,
        output=values.get("output", "text"),
        wait_lock=values.get("wait_lock"),
    )


def _acceptable(key: str, value: str) -> bool:
    if value.startswith("-"):
        return False
    if key == "output":
        return value in _OUTPUTS
    if key == "inventory" and os.path.exists(value):  # click: not a folder, readable
        return _readable_file(value)
    return True


def _readable_file(path: str) -> bool:
    return not os.path.isdir(path) and os.path.exists(path) and os.access(path, os.R_OK)
