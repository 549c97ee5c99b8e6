"""Docker Desktop's settings file on each OS, its VM resources, and its disk image.

Docker Desktop 4.35+ keeps its settings in `settings-store.json` (keys `MemoryMiB`,
`Cpus`, `DiskSizeMiB`, `DataFolder`); 4.34 and earlier in `settings.json`
(`memoryMiB`, `cpus`, `diskSizeMiB`, `dataFolder`). The newer file wins when both
exist, as in Docker Desktop itself:

* macOS:   ~/Library/Group Containers/group.com.docker/
* Windows: %APPDATA%\\Docker\\
* Linux:   ~/.docker/desktop/

Writing only ever raises a value (`raise_to_floors`): the VM memory cap, CPUs and
disk size are never lowered, whatever the step says or the file held when read.
"""

from __future__ import annotations

import configparser
import json
import os
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path, PureWindowsPath
from typing import Any

from msgspec import Struct

from engine.backends.localstack.sizes import SizeError, parse_mib
from engine.core.regular_file import read_regular_text

SETTINGS_NAMES = ("settings-store.json", "settings.json")
RESOURCES = ("memory", "cpus", "disk")
# (settings-store.json key, settings.json key)
KEYS = {
    "memory": ("MemoryMiB", "memoryMiB"),
    "cpus": ("Cpus", "cpus"),
    "disk": ("DiskSizeMiB", "diskSizeMiB"),
    "data_folder": ("DataFolder", "dataFolder"),
    "wsl": ("WslEngineEnabled", "wslEngineEnabled"),
}


class SettingsError(Exception):
    """The settings file cannot be read (or safely written)."""


def current_system() -> str:
    """`darwin`, `win32` or `linux` (every other Unix reads like Linux)."""
    return sys.platform if sys.platform in ("darwin", "win32") else "linux"


def settings_dir(system: str, home: Path, env: Mapping[str, str]) -> Path:
    if system == "darwin":
        return home / "Library" / "Group Containers" / "group.com.docker"
    if system == "win32":
        appdata = env.get("APPDATA")
        return Path(appdata) / "Docker" if appdata else home / "AppData" / "Roaming" / "Docker"
    return home / ".docker" / "desktop"


def settings_candidates(system: str, home: Path, env: Mapping[str, str]) -> list[Path]:
    """Where Docker Desktop keeps its settings on `system`, newest format first."""
    folder = settings_dir(system, home, env)
    return [folder / name for name in SETTINGS_NAMES]


def find_settings(
    system: str | None = None, home: Path | None = None, env: Mapping[str, str] | None = None
) -> tuple[Path | None, list[Path]]:
    """The settings file in use (None when there is none), and every place looked at."""
    looked = settings_candidates(system or current_system(), home or Path.home(), env or os.environ)
    return next((path for path in looked if path.is_file()), None), looked


class DesktopSettings(Struct, frozen=True):
    path: Path
    data: Mapping[str, Any]

    @property
    def new_format(self) -> bool:
        return self.path.name == SETTINGS_NAMES[0]

    def key(self, what: str) -> str:
        """The key this file uses for `what`: the one present, else its format's."""
        new, old = KEYS[what]
        if new in self.data or old in self.data:
            return new if new in self.data else old
        return new if self.new_format else old

    def raw(self, what: str) -> Any:
        return self.data.get(self.key(what))

    def amount(self, what: str) -> int | None:
        """A resource as a positive whole number (MiB, or CPUs); None when the file does
        not say, or says something that is not one — then it is unknown."""
        value = self.raw(what)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            return None
        return value

    def resources(self) -> dict[str, int | None]:
        return {what: self.amount(what) for what in RESOURCES}

    def wsl_engine(self, system: str) -> bool:
        """On Windows with the WSL 2 engine, memory and CPUs are set in .wslconfig."""
        return system == "win32" and self.raw("wsl") is True


def read_settings(path: Path) -> DesktopSettings:
    try:
        data = json.loads(read_regular_text(path))
    except FileNotFoundError:
        raise SettingsError(f"{path} does not exist") from None
    except (OSError, ValueError) as exc:
        raise SettingsError(f"{path} cannot be read as JSON: {exc}") from None
    if not isinstance(data, dict):
        raise SettingsError(f"{path} does not hold a JSON object")
    return DesktopSettings(path, data)


def raise_to_floors(path: Path, floors: Mapping[str, int]) -> dict[str, tuple[int, int]]:
    """Raise each resource below its floor up to the floor; {what: (before, after)}.

    The file is read again right before writing, so a value raised meanwhile (by
    Docker Desktop or a person) is kept: the new value is max(current, floor). A value
    that is unknown is refused, never guessed. The write is atomic and keeps every
    other key, the key spelling and the file's mode."""
    settings = read_settings(path)
    changes: dict[str, tuple[int, int]] = {}
    data = dict(settings.data)
    for what, floor in floors.items():
        current = settings.amount(what)
        if current is None:
            raise SettingsError(f"{settings.key(what)} in {path} is unknown; refusing to guess")
        if current < floor:
            data[settings.key(what)] = max(current, floor)
            changes[what] = (current, floor)
    if changes:
        _write_atomically(path, data)
    return changes


def _write_atomically(path: Path, data: Mapping[str, Any]) -> None:
    mode = path.stat().st_mode & 0o777
    fd, tmp = tempfile.mkstemp(prefix=".runbook-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def disk_image_candidates(
    system: str, home: Path, env: Mapping[str, str], settings: DesktopSettings | None
) -> list[Path]:
    """Where the VM's disk image lives, most likely first (a custom `DataFolder`
    from the settings comes before the default)."""
    folder = settings.raw("data_folder") if settings else None
    if system == "win32":
        local = Path(env.get("LOCALAPPDATA") or home / "AppData" / "Local") / "Docker" / "wsl"
        found = [local / "disk" / "docker_data.vhdx", local / "data" / "ext4.vhdx"]
        return (
            [Path(str(PureWindowsPath(folder) / "DockerDesktop.vhdx"))] if folder else []
        ) + found
    default = (
        home / "Library" / "Containers" / "com.docker.docker" / "Data" / "vms" / "0" / "data"
        if system == "darwin"
        else home / ".docker" / "desktop" / "vms" / "0" / "data"
    )
    folders = [Path(str(folder)), default] if isinstance(folder, str) and folder else [default]
    return [f / "Docker.raw" for f in folders]


def wslconfig_limits(home: Path) -> dict[str, int | None]:
    """Memory (MiB) and processors from %USERPROFILE%\\.wslconfig's [wsl2] section."""

    parser = configparser.ConfigParser()
    try:
        parser.read(home / ".wslconfig", encoding="utf-8")
    except configparser.Error:
        return {"memory": None, "cpus": None}
    section = parser["wsl2"] if parser.has_section("wsl2") else {}
    memory, cpus = section.get("memory"), section.get("processors")
    try:
        memory_mib = parse_mib(memory) if memory else None
    except SizeError:
        memory_mib = None
    return {"memory": memory_mib, "cpus": int(cpus) if cpus and cpus.isdigit() else None}
