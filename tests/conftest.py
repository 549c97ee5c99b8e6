"""Shared test setup: every test runs with its own HOME and RUNBOOK_HOME, without the
user's KUBECONFIG or ssh agent, so nothing touches the user's ~/.kube, ~/.ssh, agent or
ledger; fixtures for real components."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.ledger import Ledger

pytest_plugins = [
    "prom_fixtures",
    "sshd_fixtures",
    "kube_fixtures",
    "localstack_fixtures",
    "http_fixtures",
    "serve_fixtures",
    "alertmanager_fixtures",
    "browser_fixtures",
]


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("RUNBOOK_HOME", str(home / ".runbook"))
    monkeypatch.setenv("RUNBOOK_PLAIN", "1")
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)  # the user's agent keys, offered by paramiko
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    yield home


@pytest.fixture
def ledger_path(tmp_path: Path) -> Path:
    """Where a ledger test keeps its ledger (the folder is created on opening)."""
    return tmp_path / "state" / "ledger.sqlite3"


@pytest.fixture
def ledger(ledger_path: Path) -> Iterator[Ledger]:
    with Ledger.open(ledger_path) as opened:
        yield opened
