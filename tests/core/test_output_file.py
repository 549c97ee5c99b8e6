"""engine/core/output_file.py: the one writer of the files people name with `-o`."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from engine.core.errors import UsageError
from engine.core.output_file import check_output, other_than_a_file, write_output


def test_a_new_file_is_written_whole_with_its_mode_whatever_the_umask(tmp_path: Path) -> None:
    target = tmp_path / "report.md"
    old = os.umask(0)
    try:
        write_output(target, "text\n", force=False)
        write_output(tmp_path / "shared.yaml", b"bytes\n", force=False, mode=0o644)
    finally:
        os.umask(old)
    assert target.read_text() == "text\n" and stat.S_IMODE(target.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "shared.yaml").stat().st_mode) == 0o644
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]  # no leftover


def test_an_existing_file_is_replaced_only_when_forced_naming_the_option(tmp_path: Path) -> None:
    target = tmp_path / "case.yaml"
    target.write_text("old\n")
    with pytest.raises(UsageError) as refused:
        write_output(target, "new\n", force=False, option="--replace-html")
    assert refused.value.hint == "add --replace-html to replace it"
    assert target.read_text() == "old\n"
    write_output(target, "new\n", force=True)
    assert target.read_text() == "new\n"


def test_anything_but_a_regular_file_is_refused_and_left_as_it_is(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    device_link = tmp_path / "stdout"
    device_link.symlink_to(os.devnull)
    file_link = tmp_path / "link.md"
    (tmp_path / "real.md").write_text("kept\n")
    file_link.symlink_to(tmp_path / "real.md")
    dangling = tmp_path / "dangling.md"
    dangling.symlink_to(tmp_path / "nowhere.md")
    said = {
        fifo: "a FIFO (named pipe)",
        device_link: "a character device",
        file_link: "a symlink",
        dangling: "a symlink",
        tmp_path: "a folder",
    }
    for target, kind in said.items():
        assert other_than_a_file(target) == kind
        with pytest.raises(UsageError) as refused:
            write_output(target, "x", force=True)
        assert refused.value.message == f"cannot write {target}: it is {kind}, not a file"
    assert stat.S_ISFIFO(fifo.lstat().st_mode) and device_link.is_symlink()
    assert (tmp_path / "real.md").read_text() == "kept\n" and not (tmp_path / "nowhere.md").exists()


def test_a_missing_folder_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="there is no folder"):
        check_output(tmp_path / "missing" / "bundle.tar.gz", force=True)
