"""The `docker_desktop` actions that read files rather than run the CLI:
`ensure_resources` (the settings file against floors) and `check_disk_image`.

`ensure_resources` only checks unless the step says `apply: true`; then it raises
what is below its floor — never lowers anything: an unknown current value, or the
WSL 2 engine (whose limits live in .wslconfig), is refused rather than guessed.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from engine.backends.localstack.cli import Deadline, refused, succeeded
from engine.backends.localstack.desktop_settings import (
    DesktopSettings,
    SettingsError,
    current_system,
    disk_image_candidates,
    find_settings,
    raise_to_floors,
    read_settings,
    wslconfig_limits,
)
from engine.backends.localstack.sizes import format_bytes, format_mib
from engine.backends.step_run import StepRun
from engine.core.results import Status, StepResult

NEARLY_FULL = 0.95  # an image this full of its size cap makes the engine hang


def _cpus(count: float) -> str:
    return f"{count:.0f} CPUs"


UNITS: dict[str, Callable[[float], str]] = {"memory": format_mib, "disk": format_mib, "cpus": _cpus}


def locate_settings(r: Mapping[str, Any]) -> tuple[DesktopSettings | None, str]:
    """The settings in use, or (None, why not)."""
    explicit = r.get("settings_file")
    path, looked = (Path(explicit), [Path(explicit)]) if explicit else find_settings()
    if path is None:
        where = ", ".join(str(p) for p in looked)
        return None, f"Docker Desktop's settings file was not found (looked at {where})"
    try:
        return read_settings(path), ""
    except SettingsError as exc:
        return None, str(exc)


def current_resources(settings: DesktopSettings) -> tuple[dict[str, int | None], str]:
    """Memory, CPUs and disk now; with the WSL 2 engine memory and CPUs come from
    .wslconfig (and the note says so)."""
    found = settings.resources()
    if not settings.wsl_engine(current_system()):
        return found, ""
    found.update(wslconfig_limits(Path.home()))
    return found, "memory and CPUs are set in %USERPROFILE%\\.wslconfig (WSL 2 engine)"


def shortfalls(current: Mapping[str, int | None], floors: Mapping[str, int]) -> dict[str, str]:
    """{what: description} for each resource below its floor or unknown."""
    found = {}
    for what, floor in floors.items():
        have = current.get(what)
        show = UNITS[what]
        if have is None:
            found[what] = f"{what} is unknown (floor {show(floor)})"
        elif have < floor:
            found[what] = f"{what} {show(have)} is below the floor {show(floor)}"
    return found


def ensure_resources(
    spec: Any, r: Mapping[str, Any], ctx: StepRun, deadline: Deadline
) -> StepResult:
    settings, problem = locate_settings(r)
    if settings is None:
        return StepResult(Status.FAILED, message=problem)
    current, note = current_resources(settings)
    floors: dict[str, int] = dict(r["floors"])
    short = shortfalls(current, floors)
    value = {"settings_file": str(settings.path), **current, "floors": floors, "below": short}
    if not short:
        return succeeded(None, "Docker Desktop meets every floor", value=value, changed=False)
    listed = "; ".join(short.values())
    if not r.get("apply"):
        hint = "raise it in Docker Desktop → Settings → Resources (or `apply: true`)"
        return StepResult(Status.FAILED, message=f"{listed}; {hint}", value=value)
    if note:
        return refused(f"{listed}; {note}: change them there, the engine will not")
    return _raise(settings.path, floors, short, value)


def _raise(
    path: Path, floors: Mapping[str, int], short: Mapping[str, str], value: dict[str, Any]
) -> StepResult:
    try:
        changes = raise_to_floors(path, {what: floors[what] for what in short})
    except SettingsError as exc:
        return refused(f"{exc}; the VM's limits were left as they are")
    done = ", ".join(
        f"{what} {UNITS[what](before)} → {UNITS[what](after)}"
        for what, (before, after) in changes.items()
    )
    message = f"raised {done} in {path}; restart Docker Desktop to apply"
    captured = {"settings_file": str(path), "raised": {k: list(v) for k, v in changes.items()}}
    return succeeded(None, message, value={**value, **captured}, captured=captured, changed=True)


def _existing_ancestor(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path(path.anchor or "/")


def _image_path(r: Mapping[str, Any], settings: DesktopSettings | None) -> Path:
    if r.get("disk_image"):
        return Path(str(r["disk_image"]))
    candidates = disk_image_candidates(current_system(), Path.home(), os.environ, settings)
    return next((path for path in candidates if path.exists()), candidates[0])


def check_disk_image(
    spec: Any, r: Mapping[str, Any], ctx: StepRun, deadline: Deadline
) -> StepResult:
    """The VM's disk image exists, is not nearly full, and its volume has free space."""
    settings, _ = locate_settings(r)
    image = _image_path(r, settings)
    free = shutil.disk_usage(_existing_ancestor(image.parent)).free
    value: dict[str, Any] = {"path": str(image), "exists": image.is_file(), "free_bytes": free}
    if not image.is_file():
        why = "the VM was reset or wiped, or Docker Desktop keeps it elsewhere"
        return StepResult(
            Status.FAILED, message=f"no VM disk image at {image} ({why})", value=value
        )
    problems = _image_problems(image, settings, free, r.get("min_free_mib"), value)
    if problems:
        return StepResult(Status.FAILED, message="; ".join(problems), value=value)
    used = format_bytes(value["allocated_bytes"])
    return succeeded(None, f"{image}: {used} used, {format_bytes(free)} free", value=value)


def _image_problems(
    image: Path,
    settings: DesktopSettings | None,
    free: int,
    min_free_mib: int | None,
    value: dict[str, Any],
) -> list[str]:
    stat = image.stat()
    # Docker.raw is sparse: the blocks in use count, not its apparent size.
    allocated = stat.st_blocks * 512 if hasattr(stat, "st_blocks") else stat.st_size
    cap_mib = settings.amount("disk") if settings else None
    value.update(size_bytes=stat.st_size, allocated_bytes=allocated, cap_mib=cap_mib)
    problems = []
    if min_free_mib and free < min_free_mib * 1024**2:
        problems.append(
            f"only {format_bytes(free)} free on the host volume (floor {format_mib(min_free_mib)})"
        )
    if cap_mib and allocated >= NEARLY_FULL * cap_mib * 1024**2:
        problems.append(
            f"the disk image holds {format_bytes(allocated)} of its {format_mib(cap_mib)} cap: "
            "prune, or grow the disk in Settings → Resources"
        )
    return problems
