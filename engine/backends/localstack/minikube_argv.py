"""A `minikube` step rendered into values, and the exact argv of each action.

Both the dry-run and the run build their commands here, so what `runbook plan`
shows is exactly what a run executes.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

from msgspec import Struct

from engine.backends.localstack.minikube_status import ProfileConfig
from engine.backends.localstack.sizes import parse_mib
from engine.core.rendering import Renderer

MINIKUBE = "minikube"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*\Z")
_VERSION = re.compile(r"^(stable|latest|v?[0-9]+\.[0-9]+(\.[0-9]+)?([-+][A-Za-z0-9.-]+)?)\Z")


class Target(Struct, frozen=True):
    """The rendered values one action needs."""

    profile: str
    driver: str | None = None
    memory_mib: int | None = None
    cpus: int | None = None
    kubernetes_version: str | None = None
    addon: str | None = None
    command: str | None = None
    tail_lines: int = 60


def render_target(spec: Any, render: Renderer) -> Target:
    """Render and check every value; ValueError names the one that is wrong."""
    return Target(
        profile=_name("profile", render.text(spec.profile)),
        driver=_optional_name("driver", spec.driver, render),
        memory_mib=_size(spec.memory, render),
        cpus=_cpus(spec.cpus, render),
        kubernetes_version=_version(spec.kubernetes_version, render),
        addon=_optional_name("addon", spec.addon, render),
        command=_remote_command(spec.command, render),
        tail_lines=spec.tail_lines,
    )


def _name(what: str, value: str) -> str:
    if not _NAME.match(value):
        raise ValueError(
            f"{what} {value!r} is not a name minikube accepts (letters, digits, . _ -)"
        )
    return value


def _given(value: str | int | None, render: Renderer) -> str | None:
    """The rendered value; None when absent or rendered empty (an input left at "" means
    "keep the profile's own")."""
    if value is None:
        return None
    text = render.text(value) if isinstance(value, str) else str(value)
    return text.strip() or None


def _optional_name(what: str, template: str | None, render: Renderer) -> str | None:
    value = _given(template, render)
    return None if value is None else _name(what, value)


def _size(value: str | int | None, render: Renderer) -> int | None:
    text = _given(value, render)
    return None if text is None else parse_mib(text)


def _cpus(value: str | int | None, render: Renderer) -> int | None:
    text = _given(value, render)
    if text is None:
        return None
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"cpus {text!r} is not a whole number of CPUs (1 or more)")
    return int(text)


def _version(template: str | None, render: Renderer) -> str | None:
    value = _given(template, render)
    if value is None:
        return None
    if not _VERSION.match(value):
        raise ValueError(f"kubernetes_version {value!r} is not a version such as v1.31.0")
    return value


def _remote_command(command: str | tuple[str, ...] | None, render: Renderer) -> str | None:
    """An argv list is joined with shell quoting. A string with values is run by
    `/bin/sh -c` on the node with its values in the environment (`env NAME=value…`,
    quoted for the node's shell), as for a `shell` step; one without is sent as written."""
    if command is None:
        return None
    if isinstance(command, tuple):
        return shlex.join(render.argv(command))
    script = render.shell(command)
    if not script.values:
        return script.script  # as written: the node's shell runs it
    values = [f"{name}={value}" for name, value in script.values]
    return shlex.join(["env", *values, *script.argv])


def base(profile: str) -> list[str]:
    return [MINIKUBE, "-p", profile]


def status_argv(t: Target) -> list[str]:
    return [*base(t.profile), "status", "-o", "json"]


def profile_list_argv() -> list[str]:
    return [MINIKUBE, "profile", "list", "-o", "json"]


def start_argv(t: Target, force: bool = False) -> list[str]:
    argv = [*base(t.profile), "start"]
    if t.driver:
        argv.append(f"--driver={t.driver}")
    if t.memory_mib:
        argv.append(f"--memory={t.memory_mib}mb")
    if t.cpus:
        argv.append(f"--cpus={t.cpus}")
    if t.kubernetes_version:
        argv.append(f"--kubernetes-version={t.kubernetes_version}")
    return [*argv, "--force"] if force else argv


def restart_from(config: ProfileConfig) -> list[str]:
    """`start` with a captured configuration: what undoing a stop runs."""
    return start_argv(
        Target(
            profile=config.name,
            driver=config.driver or None,
            memory_mib=config.memory_mib,
            cpus=config.cpus,
            kubernetes_version=config.kubernetes_version or None,
        )
    )


def stop_argv(t: Target) -> list[str]:
    return [*base(t.profile), "stop"]


def delete_argv(t: Target) -> list[str]:
    return [*base(t.profile), "delete"]


def addon_argv(t: Target, enable: bool) -> list[str]:
    return [*base(t.profile), "addons", "enable" if enable else "disable", str(t.addon)]


def addons_list_argv(t: Target) -> list[str]:
    return [*base(t.profile), "addons", "list", "-o", "json"]


def ssh_argv(t: Target) -> list[str]:
    return [*base(t.profile), "ssh", "--", str(t.command)]


def update_context_argv(t: Target) -> list[str]:
    return [*base(t.profile), "update-context"]


def logs_argv(t: Target) -> list[str]:
    return [*base(t.profile), "logs", f"--length={t.tail_lines}"]


def main_argv(action: str, t: Target, spec: Any) -> list[list[str]]:
    """The commands that change (or read) something, in order, for the dry-run."""
    table = {
        "status": [status_argv(t)],
        "start": [start_argv(t, spec.force)],
        "stop": [stop_argv(t)],
        "restart": [stop_argv(t), start_argv(t)],
        "delete": [delete_argv(t)],
        "addons": [addon_argv(t, bool(spec.enable))],
        "ssh": [ssh_argv(t)],
        "update_context": [update_context_argv(t)],
        "logs": [logs_argv(t)],
    }
    return table[action]
