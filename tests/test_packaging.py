"""What a user installs: the wheel and the sdist carry the license the metadata names,
the classifiers and the typing marker; the version, the changelog, the README's
pre-commit pin and the release tag agree."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import tarfile
import zipfile
from email.message import Message
from email.parser import Parser
from pathlib import Path

import pytest
from tree import REPO

from engine import __version__

# The Apache License 2.0 exactly as apache.org publishes it (LICENSE-2.0.txt).
APACHE_2_SHA256 = "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"
CLASSIFIERS = {
    "Environment :: Console",
    "Intended Audience :: System Administrators",
    "Operating System :: MacOS",
    "Operating System :: POSIX :: Linux",
    "Programming Language :: Python :: 3.11",
    "Programming Language :: Python :: 3.12",
    "Topic :: System :: Systems Administration",
    "Typing :: Typed",
}
_BUILD = """
import sys
from hatchling.build import build_sdist, build_wheel
out = sys.argv[1]
print(build_wheel(out))
print(build_sdist(out))
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The wheel and the sdist, built from the work tree by the project's build backend
    (as pip and `python -m build` call it), into a folder of the test's own."""
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run(
        [sys.executable, "-c", _BUILD, str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    wheel, sdist = done.stdout.split()
    return out / wheel, out / sdist


def _metadata(text: str) -> Message:
    return Parser().parsestr(text)


def test_the_license_file_is_the_whole_apache_2_text() -> None:
    text = (REPO / "LICENSE").read_bytes()
    assert hashlib.sha256(text).hexdigest() == APACHE_2_SHA256
    assert b"Version 2.0, January 2004" in text
    assert b"END OF TERMS AND CONDITIONS" in text
    assert b"APPENDIX: How to apply the Apache License to your work." in text


def test_the_wheel_carries_the_license_and_the_typing_marker(built: tuple[Path, Path]) -> None:
    wheel, _ = built
    dist_info = f"runbook_engine-{__version__}.dist-info"
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        assert f"{dist_info}/licenses/LICENSE" in names
        assert archive.read(f"{dist_info}/licenses/LICENSE") == (REPO / "LICENSE").read_bytes()
        assert "engine/py.typed" in names
        metadata = _metadata(archive.read(f"{dist_info}/METADATA").decode())
    _assert_metadata(metadata)


def test_the_sdist_carries_the_license(built: tuple[Path, Path]) -> None:
    _, sdist = built
    top = f"runbook_engine-{__version__}"
    with tarfile.open(sdist) as archive:
        names = set(archive.getnames())
        assert f"{top}/LICENSE" in names
        assert f"{top}/engine/py.typed" in names
        pkg_info = archive.extractfile(f"{top}/PKG-INFO")
        assert pkg_info is not None
        metadata = _metadata(pkg_info.read().decode())
    _assert_metadata(metadata)


def _assert_metadata(metadata: Message) -> None:
    assert metadata["Version"] == __version__
    assert metadata["License-Expression"] == "Apache-2.0"
    assert metadata.get_all("License-File") == ["LICENSE"]
    classifiers = set(metadata.get_all("Classifier") or [])
    assert classifiers >= CLASSIFIERS
    assert any(c.startswith("Development Status :: ") for c in classifiers)
    # PEP 639: the license expression replaces the License classifiers; indexes refuse both.
    assert not [c for c in classifiers if c.startswith("License ::")]


def test_the_changelog_s_latest_release_is_the_package_version() -> None:
    changelog = (REPO / "CHANGELOG.md").read_text(encoding="utf-8")
    releases = re.findall(r"^## \[([^]]+)\]", changelog, re.MULTILINE)
    assert releases[0] == "Unreleased"
    assert releases[1] == __version__


def test_the_readme_pins_the_pre_commit_hook_to_the_version_s_tag() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert re.findall(r"^\s*rev: (\S+)$", readme, re.MULTILINE) == [f"v{__version__}"]
