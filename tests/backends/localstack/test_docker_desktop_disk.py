"""`check_disk_image`: Docker Desktop's VM disk image exists, how much of it is in use
(it is sparse: blocks, not its apparent size), and free space on its host volume."""

from __future__ import annotations

from pathlib import Path

from localstack_fixtures import desktop_settings
from localstack_helpers import apply_step

from engine.core.results import Status


def _image(folder: Path, size: int, written: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    image = folder / "Docker.raw"
    with open(image, "wb") as handle:
        handle.write(b"\1" * written)
        handle.truncate(size)  # sparse, like Docker.raw
    return image


def test_check_disk_image_reads_size_and_free_space(isolated_home: Path) -> None:
    desktop_settings(isolated_home, MemoryMiB=4096, DiskSizeMiB=64)
    image = _image(isolated_home / ".docker/desktop/vms/0/data", 64 * 1024**2, 1024**2)
    result = apply_step("docker_desktop", {"action": "check_disk_image", "min_free": 1})
    assert result.ok, result.message
    assert result.value["path"] == str(image) and result.value["size_bytes"] == 64 * 1024**2
    assert result.value["allocated_bytes"] < 8 * 1024**2 and result.value["free_bytes"] > 0


def test_a_missing_disk_image_fails_the_check(isolated_home: Path) -> None:
    desktop_settings(isolated_home, MemoryMiB=4096)
    result = apply_step("docker_desktop", {"action": "check_disk_image"})
    assert result.status is Status.FAILED and "no VM disk image at" in result.message
    assert result.value["exists"] is False


def test_a_nearly_full_image_or_a_full_host_volume_fail_the_check(
    isolated_home: Path, tmp_path: Path
) -> None:
    desktop_settings(isolated_home, MemoryMiB=4096, DiskSizeMiB=4)
    image = _image(tmp_path / "custom", 4 * 1024**2, 4 * 1024**2)
    full = apply_step("docker_desktop", {"action": "check_disk_image", "disk_image": str(image)})
    assert full.status is Status.FAILED and "holds 4 MiB of its 4 MiB cap" in full.message
    no_room = apply_step(
        "docker_desktop",
        {"action": "check_disk_image", "disk_image": str(image), "min_free": "1000000t"},
    )
    assert no_room.status is Status.FAILED and "free on the host volume" in no_room.message
