"""Fixtures for the local stack: a fake `minikube` on PATH, the REAL `docker` CLI talking
to a fake Engine API over a unix socket, a fake `docker desktop` plugin, and a
stand-in API server whose /readyz follows the fake minikube's state.

The fakes live in tests/fakes/ (their docstrings say why each is a fake); they run as
separate processes, share one JSON state file and log every invocation, so tests
assert on what the fakes recorded — never on how the engine is built.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fakes import fakestate
from fakes.stand_in_apiserver import Readyz

FAKES = Path(__file__).resolve().parent / "fakes"
DOCKER = "/usr/local/bin/docker"
DESKTOP_CONTEXT = "desktop-linux"


def _wrapper(path: Path, script: str) -> None:
    """An executable that runs one of the fakes with this interpreter."""
    path.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKES / script}" "$@"\n')
    path.chmod(0o755)


def _json_lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@dataclass
class LocalStack:
    """The fakes' shared state and records, with helpers to script them."""

    root: Path
    bin: Path
    state_file: Path
    log_file: Path
    extra: dict[str, Any] = field(default_factory=dict)

    def update(self, change: Callable[[dict[str, Any]], None]) -> None:
        fakestate.STATE, fakestate.LOG = str(self.state_file), str(self.log_file)
        with fakestate.locked() as state:
            change(state)

    def state(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        self.update(found.update)
        return found

    def profile(self, name: str = "minikube", **fields: Any) -> None:
        """Seed a profile (running, 4 GiB, 2 CPUs unless told otherwise)."""
        record = {
            "status": "Running",
            "driver": "docker",
            "memory_mib": 4096,
            "cpus": 2,
            "kubernetes_version": "v1.31.0",
            "ip": "192.168.49.2",
            "addons": {"default-storageclass": True, "storage-provisioner": True},
        }
        record.update(fields)
        self.update(lambda s: s["minikube"]["profiles"].__setitem__(name, record))

    def script(self, tool: str, argv_has: list[str], **answer: Any) -> None:
        """Script the next call(s) of `tool` whose argv has all of `argv_has`."""
        entry = {"tool": tool, "argv_has": argv_has, **answer}
        self.update(lambda s: s["script"].append(entry))

    def calls(self, tool: str, phase: str = "end") -> list[list[str]]:
        """The argv of every call of `tool` the fakes recorded, in order."""
        return [
            r["argv"]
            for r in _json_lines(self.log_file)
            if r["tool"] == tool and r["phase"] == phase
        ]

    def records(self, tool: str) -> list[dict[str, Any]]:
        return [r for r in _json_lines(self.log_file) if r["tool"] == tool]

    def commands(self, tool: str) -> list[str]:
        """Each recorded call as one string of its words, e.g. `-p dev start --cpus=4`."""
        return [" ".join(argv) for argv in self.calls(tool)]


@pytest.fixture
def fake_minikube(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LocalStack:
    """A fake `minikube` first on PATH, with no profiles yet and Docker Desktop running."""
    root = tmp_path / "fakes"
    bin_dir = root / "bin"
    bin_dir.mkdir(parents=True)
    _wrapper(bin_dir / "minikube", "fake_minikube.py")
    stack = LocalStack(root, bin_dir, root / "state.json", root / "invocations.jsonl")
    monkeypatch.setenv("PATH", f"{bin_dir}:{Path(DOCKER).parent}:/usr/bin:/bin")
    monkeypatch.setenv("FAKE_STATE", str(stack.state_file))
    monkeypatch.setenv("FAKE_LOG", str(stack.log_file))
    stack.update(lambda s: None)
    return stack


def _docker(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([DOCKER, *args], capture_output=True, text=True, timeout=30, check=False)


def _wait_for_engine(sock: Path, engine: subprocess.Popen[bytes]) -> None:
    end = time.monotonic() + 15
    while time.monotonic() < end:
        if _docker("version").returncode == 0:
            return
        assert engine.poll() is None, "the fake engine died"
        time.sleep(0.05)
    raise AssertionError(f"the fake engine never answered on {sock}")


def _docker_config(stack: LocalStack, sock: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """DOCKER_CONFIG with the fake plugin and a current context `desktop-linux`."""
    config = stack.root / "docker-config"
    (config / "cli-plugins").mkdir(parents=True)
    (config / "config.json").write_text("{}")
    _wrapper(config / "cli-plugins" / "docker-desktop", "fake_docker_desktop.py")
    monkeypatch.setenv("DOCKER_CONFIG", str(config))
    monkeypatch.setenv("FAKE_DOCKER_SOCKET", str(sock))
    for key in ("DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"):
        monkeypatch.delenv(key, raising=False)
    made = _docker("context", "create", DESKTOP_CONTEXT, "--docker", f"host=unix://{sock}")
    assert made.returncode == 0, made.stderr
    assert _docker("context", "use", DESKTOP_CONTEXT).returncode == 0
    return config


def _stop(engine: subprocess.Popen[bytes]) -> None:
    engine.terminate()
    try:
        engine.wait(timeout=10)
    except subprocess.TimeoutExpired:
        engine.kill()
        engine.wait(timeout=10)


@pytest.fixture
def fake_docker(fake_minikube: LocalStack, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalStack]:
    """The real docker CLI, its current context `desktop-linux` pointing at a fake engine
    (a socket under a short /tmp path: unix socket paths are limited to 108 bytes),
    and the fake `docker desktop` plugin. Docker Desktop starts `running`."""
    stack, short = fake_minikube, Path(tempfile.mkdtemp(prefix="rb-dd-", dir="/tmp"))
    sock, engine_log = short / "docker.sock", fake_minikube.root / "engine-requests.jsonl"
    monkeypatch.setenv("FAKE_ENGINE_LOG", str(engine_log))
    config = _docker_config(stack, sock, monkeypatch)
    engine = subprocess.Popen(
        [sys.executable, str(FAKES / "fake_docker_engine.py"), str(sock)],
        start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    stack.extra.update(socket=sock, engine_log=engine_log, docker_config=config)
    try:
        _wait_for_engine(sock, engine)
        yield stack
    finally:
        _stop(engine)
        shutil.rmtree(short, ignore_errors=True)


def engine_requests(stack: LocalStack) -> list[dict[str, Any]]:
    """What the fake engine was asked, in order."""
    return _json_lines(Path(stack.extra["engine_log"]))


def desktop_settings(
    home: Path, system: str = "linux", legacy: bool = False, **values: Any
) -> Path:
    """Write Docker Desktop's settings file where it lives on `system` under `home`."""
    folders = {
        "linux": home / ".docker" / "desktop",
        "darwin": home / "Library" / "Group Containers" / "group.com.docker",
        "win32": home / "AppData" / "Roaming" / "Docker",
    }
    path = folders[system] / ("settings.json" if legacy else "settings-store.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"AutoStart": False, **values}, indent=2))
    return path


@pytest.fixture
def stand_in_apiserver(
    fake_minikube: LocalStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """A kubeconfig (KUBECONFIG) whose context `minikube` points at a stand-in API
    server: the real kubectl's `get --raw /readyz` follows the fake profile's state."""
    handler = type("Readyz", (Readyz,), {"state": fake_minikube.state, "profile": "minikube"})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: minikube\n"
        f"clusters: [{{name: minikube, cluster: {{server: '{url}'}}}}]\n"
        "users: [{name: minikube, user: {}}]\n"
        "contexts: [{name: minikube, context: {cluster: minikube, user: minikube}}]\n"
    )
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    yield url
    server.shutdown()
    server.server_close()


def desktop_vm(home: Path, memory_mib: int = 8192, disk_mib: int = 65536) -> Path:
    """Docker Desktop's settings and a (sparse, nearly empty) VM disk image under `home`,
    where Docker Desktop keeps them on Linux; the settings file's path."""
    image = home / ".docker" / "desktop" / "vms" / "0" / "data" / "Docker.raw"
    image.parent.mkdir(parents=True, exist_ok=True)
    with open(image, "wb") as handle:
        handle.truncate(disk_mib * 1024**2)
    return desktop_settings(home, MemoryMiB=memory_mib, Cpus=4, DiskSizeMiB=disk_mib)


@pytest.fixture
def model_host(fake_minikube: LocalStack, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The stand-in model server (a 24 GiB GPU; llama3.1:8b 9 GiB, llama3.1:70b 20 GiB)
    serving llama3.1:8b, and a fake `nvidia-smi` on PATH reading its GPU."""
    from fakes.model_server import ModelHost, start

    host = ModelHost(24576, {"llama3.1:8b": 9216, "llama3.1:70b": 20480, "qwen2.5:7b": 8192})
    host.resident["llama3.1:8b"] = {"size_mib": 9216, "keep_alive": "30m"}
    server, url = start(host)
    _wrapper(fake_minikube.bin / "nvidia-smi", "fake_nvidia_smi.py")
    monkeypatch.setenv("FAKE_MODEL_SERVER", url)
    host.url = url  # type: ignore[attr-defined]
    yield host
    server.shutdown()
    server.server_close()
