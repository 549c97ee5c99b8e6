"""Real components the tests need: present → used; missing → skipped with the reason on a
developer's machine, but a failure in CI (CI=true), where `.ci/run` installs them."""

from __future__ import annotations

import os
import shutil
import socket

import pytest


def require_binary(name: str, package: str) -> str:
    path = shutil.which(name) or (
        f"/usr/bin/{name}" if os.path.exists(f"/usr/bin/{name}") else None
    )
    if path:
        return path
    reason = f"{name} is not installed (apt-get install {package})"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI must install it in .ci/run")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
