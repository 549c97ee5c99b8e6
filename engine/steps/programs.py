"""The program a recorded step command starts on its host, told by its step type: what
a replay bundle's manifest lists as each command's tool."""

from __future__ import annotations

import re
import shlex

# The program a step of these types starts, whatever its recorded command says.
_PROGRAMS = {"kubectl": "kubectl", "minikube": "minikube", "docker_desktop": "docker"}
# What starts no program on this host: the engine itself does it, or a human.
_NO_PROGRAM = {"http": "engine (HTTP client)", "wait": "engine", "manual": "a human"}
_SSH = re.compile(r"ssh [^:]*: (?:sudo -n )?")


def program_of(kind: str, command: str) -> str | None:
    """The program a recorded command starts: for a command line, the first word of its
    script that is not a variable assignment (the engine writes templated values as
    `NAME=value` lines before the script); for ssh, the remote command's. None when the
    command names none."""
    if kind in _PROGRAMS:
        return _PROGRAMS[kind]
    if kind in _NO_PROGRAM:
        return _NO_PROGRAM[kind]
    if kind == "ssh":
        command = _SSH.sub("", command, count=1)
    for line in command.splitlines():
        try:
            words = shlex.split(line, comments=True)
        except ValueError:
            words = line.split()
        words = [word for word in words if not _assignment(word)]
        if words:
            return words[0]
    return None


def _assignment(word: str) -> bool:
    name, equals, _ = word.partition("=")
    return bool(equals) and name.isidentifier()
