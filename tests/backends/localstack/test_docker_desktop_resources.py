"""`ensure_resources` and `check_disk_image`: Docker Desktop's settings file on each OS,
floors, the VM disk image — and tests that try to make the engine lower the VM's
memory cap (it must refuse, or leave the file byte for byte as it was)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from localstack_fixtures import desktop_settings
from localstack_helpers import apply_step, plan_step, write_playbook
from sli_helpers import events, run_cli, run_id_of

from engine.backends.localstack.desktop_settings import (
    SettingsError,
    disk_image_candidates,
    raise_to_floors,
    read_settings,
    settings_candidates,
    wslconfig_limits,
)
from engine.backends.localstack.sizes import SizeError, format_mib, parse_mib
from engine.core.results import Status

GIB = 1024


def _ensure(home: Path, apply: bool = True, **floors: object) -> object:
    return apply_step("docker_desktop", {"action": "ensure_resources", "apply": apply, **floors})


@pytest.mark.parametrize(
    ("text", "mib"),
    [
        ("8g", 8192),
        ("8G", 8192),
        ("8gb", 8192),
        ("8GiB", 8192),
        ("8 GiB", 8192),
        ("512m", 512),
        ("512MiB", 512),
        ("8192", 8192),
        (8192, 8192),
        ("1.5g", 1536),
        ("1t", 1024**2),
        ("1048576k", 1024),
        ("1073741824b", 1024),
    ],
)
def test_sizes_are_binary_and_round_up(text: object, mib: int) -> None:
    assert parse_mib(text) == mib


@pytest.mark.parametrize(
    "text",
    [
        "", "lots", "8 x", "-1g", "0", "1.5", True, "8gigs", "max",
        "9" * 400 + "g", 10**400, "1048577t",  # infinity, an int float() cannot hold, > 1 EiB
    ],
)  # fmt: skip
def test_what_is_not_a_size(text: object) -> None:
    with pytest.raises(SizeError):
        parse_mib(text)


def test_a_long_run_of_spaces_is_refused_at_once() -> None:
    """A size may be rendered from an input, so from an alert's label: 100,000 spaces
    between a number and a stray character took the old pattern tens of seconds."""
    started = time.perf_counter()
    with pytest.raises(SizeError):
        parse_mib("8" + " " * 100_000 + "g!")
    assert time.perf_counter() - started < 0.5
    assert parse_mib(" 8 g\n") == 8 * GIB


def test_format_mib() -> None:
    assert (format_mib(8192), format_mib(1536), format_mib(500)) == ("8 GiB", "1.5 GiB", "500 MiB")


def test_settings_locations_per_os(tmp_path: Path) -> None:
    env = {"APPDATA": str(tmp_path / "Roaming")}
    mac = settings_candidates("darwin", tmp_path, env)
    assert mac[0] == tmp_path / "Library/Group Containers/group.com.docker/settings-store.json"
    assert mac[1].name == "settings.json"
    assert (
        settings_candidates("win32", tmp_path, env)[0]
        == tmp_path / "Roaming/Docker/settings-store.json"
    )
    assert (
        settings_candidates("win32", tmp_path, {})[0]
        == tmp_path / "AppData/Roaming/Docker/settings-store.json"
    )
    assert (
        settings_candidates("linux", tmp_path, env)[0]
        == tmp_path / ".docker/desktop/settings-store.json"
    )


def test_disk_image_locations_per_os(tmp_path: Path) -> None:
    mac = disk_image_candidates("darwin", tmp_path, {}, None)
    assert mac == [tmp_path / "Library/Containers/com.docker.docker/Data/vms/0/data/Docker.raw"]
    linux = disk_image_candidates("linux", tmp_path, {}, None)
    assert linux == [tmp_path / ".docker/desktop/vms/0/data/Docker.raw"]
    win = disk_image_candidates("win32", tmp_path, {"LOCALAPPDATA": "/L"}, None)
    assert [p.name for p in win] == ["docker_data.vhdx", "ext4.vhdx"]
    custom = read_settings(desktop_settings(tmp_path, "darwin", DataFolder="/Volumes/ext/docker"))
    assert disk_image_candidates("darwin", tmp_path, {}, custom)[0] == Path(
        "/Volumes/ext/docker/Docker.raw"
    )


def test_floors_met_change_nothing(isolated_home: Path) -> None:
    path = desktop_settings(isolated_home, MemoryMiB=16 * GIB, Cpus=8, DiskSizeMiB=128 * GIB)
    result = apply_step(
        "docker_desktop",
        {
            "action": "ensure_resources",
            "min_memory": "8GiB",
            "min_cpus": 4,
            "min_disk": "64g",
            "capture": "r",
        },
    )
    assert result.ok and result.changed is False
    assert result.value["memory"] == 16 * GIB and result.value["below"] == {}
    assert result.value["settings_file"] == str(path)


def test_check_only_fails_below_a_floor_and_writes_nothing(isolated_home: Path) -> None:
    path = desktop_settings(isolated_home, MemoryMiB=2 * GIB, Cpus=2)
    before = path.read_bytes()
    result = _ensure(isolated_home, apply=False, min_memory="8g")
    assert result.status is Status.FAILED
    assert "memory 2 GiB is below the floor 8 GiB" in result.message
    assert path.read_bytes() == before


def test_apply_raises_only_what_is_below_and_keeps_everything_else(isolated_home: Path) -> None:
    path = desktop_settings(
        isolated_home, MemoryMiB=4 * GIB, Cpus=8, DiskSizeMiB=64 * GIB, SwapMiB=1024, AutoStart=True
    )
    os.chmod(path, 0o640)
    result = _ensure(isolated_home, min_memory="8g", min_cpus=4, min_disk="32g")
    assert result.ok and result.changed is True
    data = json.loads(path.read_text())
    assert data == {
        "AutoStart": True,
        "MemoryMiB": 8 * GIB,
        "Cpus": 8,
        "DiskSizeMiB": 64 * GIB,
        "SwapMiB": 1024,
    }
    assert result.captured["raised"] == {"memory": [4 * GIB, 8 * GIB]}
    assert oct(path.stat().st_mode & 0o777) == "0o640"
    assert "restart Docker Desktop to apply" in result.message


def test_a_legacy_settings_file_keeps_its_own_key_spelling(isolated_home: Path) -> None:
    path = desktop_settings(isolated_home, legacy=True, memoryMiB=2048, cpus=2)
    assert _ensure(isolated_home, min_memory=4096).ok
    assert json.loads(path.read_text()) == {"AutoStart": False, "memoryMiB": 4096, "cpus": 2}


@pytest.mark.parametrize("floor", ["8g", "4GB", "8192", 8192, 16, "1.5g", "16383MiB"])
def test_a_floor_below_the_cap_never_lowers_it(isolated_home: Path, floor: object) -> None:
    """Floors in every unit people write, all at or below the 16 GiB cap: no write."""
    path = desktop_settings(isolated_home, MemoryMiB=16 * GIB, Cpus=4)
    before, mtime = path.read_bytes(), path.stat().st_mtime_ns
    result = _ensure(isolated_home, min_memory=floor)
    assert result.ok and result.changed is False
    assert path.read_bytes() == before and path.stat().st_mtime_ns == mtime


@pytest.mark.parametrize(
    "values",
    [
        {"Cpus": 4},
        {"MemoryMiB": "16384", "Cpus": 4},
        {"MemoryMiB": 16.5, "Cpus": 4},
        {"MemoryMiB": 0, "Cpus": 4},
        {"MemoryMiB": True, "Cpus": 4},
        {"MemoryMiB": None},
    ],
)
def test_an_unknown_memory_cap_is_refused_not_guessed(
    isolated_home: Path, values: dict[str, object]
) -> None:
    """Writing a floor over a value we cannot read could lower the real cap."""
    path = desktop_settings(isolated_home, **values)
    before = path.read_bytes()
    result = _ensure(isolated_home, min_memory="4g")
    assert result.status is Status.FAILED and result.message.startswith("refused:")
    assert "unknown" in result.message and path.read_bytes() == before


def test_the_newer_settings_file_wins_and_the_older_is_untouched(isolated_home: Path) -> None:
    legacy = desktop_settings(isolated_home, legacy=True, memoryMiB=1024, cpus=1)
    current = desktop_settings(isolated_home, MemoryMiB=16 * GIB, Cpus=8)
    old = legacy.read_bytes()
    result = _ensure(isolated_home, min_memory="8g", min_cpus=4)
    assert result.ok and result.value["settings_file"] == str(current)
    assert legacy.read_bytes() == old


def test_a_value_raised_meanwhile_is_kept(tmp_path: Path) -> None:
    """raise_to_floors reads the file again just before writing: a cap raised by
    Docker Desktop (or a person) after the check is never written back down."""
    path = desktop_settings(tmp_path, MemoryMiB=2 * GIB, Cpus=2)
    read_settings(path)  # what the check saw: 2 GiB
    desktop_settings(tmp_path, MemoryMiB=32 * GIB, Cpus=2)  # raised meanwhile
    assert raise_to_floors(path, {"memory": 8 * GIB}) == {}
    assert json.loads(path.read_text())["MemoryMiB"] == 32 * GIB
    desktop_settings(tmp_path, Cpus=2)
    with pytest.raises(SettingsError, match="unknown"):
        raise_to_floors(path, {"memory": 8 * GIB})


def test_missing_or_broken_settings_fail_without_creating_a_file(isolated_home: Path) -> None:
    missing = _ensure(isolated_home, min_memory="8g")
    assert missing.status is Status.FAILED and "settings file was not found" in missing.message
    assert not (isolated_home / ".docker").exists()
    path = desktop_settings(isolated_home)
    path.write_text("{not json")
    broken = _ensure(isolated_home, min_memory="8g")
    assert broken.status is Status.FAILED and "cannot be read as JSON" in broken.message
    assert path.read_text() == "{not json"


def test_a_templated_floor_that_is_not_a_size_is_refused(isolated_home: Path) -> None:
    path = desktop_settings(isolated_home, MemoryMiB=2048, Cpus=2)
    result = apply_step(
        "docker_desktop",
        {"action": "ensure_resources", "apply": True, "min_memory": "{{ inputs.m }}"},
        inputs={"m": "-8g"},
    )
    assert result.status is Status.FAILED and "not a size" in result.message
    assert json.loads(path.read_text())["MemoryMiB"] == 2048


def test_wsl_limits_come_from_wslconfig(tmp_path: Path) -> None:
    (tmp_path / ".wslconfig").write_text("[wsl2]\nmemory=12GB\nprocessors=6\n")
    assert wslconfig_limits(tmp_path) == {"memory": 12 * GIB, "cpus": 6}
    assert wslconfig_limits(tmp_path / "none") == {"memory": None, "cpus": None}
    settings = read_settings(
        desktop_settings(tmp_path, "win32", WslEngineEnabled=True, MemoryMiB=2048)
    )
    assert settings.wsl_engine("win32") and not settings.wsl_engine("linux")


def test_a_rollback_after_a_raise_leaves_the_cap_raised(
    isolated_home: Path, tmp_path: Path
) -> None:
    path = desktop_settings(isolated_home, MemoryMiB=4 * GIB, Cpus=4)
    playbook = write_playbook(
        tmp_path,
        """\
  - id: raise
    docker_desktop: {action: ensure_resources, min_memory: 8g, apply: true}
    irreversible: the engine never lowers Docker Desktop's memory cap
    timeout: 10s
  - id: broken
    shell: {run: [sh, -c, "exit 9"]}
    irreversible: test
""",
    )
    done = run_cli("run", str(playbook))
    assert done.returncode == 1
    kinds = {
        e["step_id"]: e["data"]["status"]
        for e in events(run_id_of(done.stdout))
        if e["kind"] == "undo_result"
    }
    assert kinds == {"raise": "skipped"}
    assert json.loads(path.read_text())["MemoryMiB"] == 8 * GIB


def test_validate_wants_an_undo_story_for_apply_but_not_for_a_check(tmp_path: Path) -> None:
    check = "  - id: r\n    docker_desktop: {action: ensure_resources, min_memory: 8g}\n"
    assert run_cli("validate", str(write_playbook(tmp_path, check))).returncode == 0
    apply = (
        "  - id: r\n    docker_desktop: {action: ensure_resources, min_memory: 8g, apply: true}\n"
    )
    done = run_cli("validate", str(write_playbook(tmp_path, apply)))
    assert done.returncode == 1 and "has no undo" in done.stdout


def test_plan_says_what_ensure_resources_would_do(isolated_home: Path) -> None:
    planned = plan_step(
        "docker_desktop", {"action": "ensure_resources", "min_memory": "8g", "apply": True}
    )
    assert planned.command.startswith("raise to floors (memory ≥ 8 GiB)")
    assert "never lowers" in planned.note and not planned.readonly


@pytest.mark.timeout(10)
def test_a_settings_file_that_is_a_fifo_is_refused_without_waiting(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "settings-store.json")
    with pytest.raises(SettingsError, match="not a regular file but a FIFO"):
        read_settings(tmp_path / "settings-store.json")
