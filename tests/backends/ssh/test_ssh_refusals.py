"""Every way a connection can go wrong is refused within its own deadline, with its own
clear error, and nothing runs: unknown / changed / revoked host key (before any key is
offered), wrong client key, closed port, black-holed TCP, a silent banner, stalled auth."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from components import free_port
from run_fixtures import (
    current_env,
    events,
    run_env,  # noqa: F401  (autouse fixture)
    run_id_of,
    runbook,
)
from sshd_fixtures import SshServer, ssh_playbook


def _fingerprint(public_line: str) -> str:
    """The SHA256 fingerprint as OpenSSH computes it (not our code)."""
    done = subprocess.run(
        ["ssh-keygen", "-lf", "-"], input=public_line, capture_output=True, text=True, check=True
    )
    return done.stdout.split()[1]


def _attempt(sshd: SshServer, remote_dir: Path, **host: Any) -> tuple[int, str, float, str]:
    """Run one.yaml against host `box` = sshd with `host` overrides; (exit, message,
    step duration, stdout)."""
    inventory = sshd.inventory(current_env().work / "inventory.yaml", {"box": sshd.host(**host)})
    ran = runbook(
        "run", ssh_playbook("one.yaml"), "--inventory", str(inventory),
        "-i", "host=box", "-i", f"marker={remote_dir}/ran",
    )  # fmt: skip
    result = events(run_id_of(ran.stdout), "step_result")[0]["data"]
    return ran.returncode, str(result["message"]), float(result["duration"]), ran.stdout


def _known_hosts(text: str) -> str:
    path = current_env().work / "known_hosts"
    path.write_text(text)
    return str(path)


def test_an_unknown_host_key_is_refused_before_authentication(
    sshd: SshServer, remote_dir: Path
) -> None:
    attempts = sshd.auth_attempts()
    empty = _known_hosts("")

    code, message, _, stdout = _attempt(sshd, remote_dir, known_hosts=empty)

    assert code == 1, stdout
    fingerprint = _fingerprint(sshd.host_public)
    who = f"box (127.0.0.1 port {sshd.port})"
    assert message.startswith(f"host key: unknown host key for {who}: ssh-ed25519 {fingerprint}")
    assert "refused before authentication" in message
    trust = f"ssh-keyscan -p {sshd.port} -t ssh-ed25519 127.0.0.1 >> {empty}"
    assert trust in message
    assert not (remote_dir / "ran").exists()
    assert sshd.auth_attempts() == attempts  # no key was offered to it

    # Following the hint (after checking the fingerprint) trusts it deliberately.
    scanned = subprocess.run(trust, shell=True, capture_output=True, text=True, check=False)
    assert scanned.returncode == 0, scanned.stderr
    code, message, _, stdout = _attempt(sshd, remote_dir, known_hosts=empty)
    assert code == 0, stdout
    assert (remote_dir / "ran").exists()


def test_a_changed_host_key_is_refused_naming_both_fingerprints(
    sshd: SshServer, remote_dir: Path
) -> None:
    impostor = (sshd.state / "other_ed25519.pub").read_text().split()[:2]
    stale = _known_hosts(f"# old entry\n[127.0.0.1]:{sshd.port} {' '.join(impostor)}\n")
    attempts = sshd.auth_attempts()

    code, message, _, stdout = _attempt(sshd, remote_dir, known_hosts=stale)

    assert code == 1, stdout
    assert message.startswith(f"host key: HOST KEY CHANGED for box (127.0.0.1 port {sshd.port})")
    assert _fingerprint(sshd.host_public) in message
    assert _fingerprint(" ".join(impostor)) in message
    assert f"{stale}:2" in message  # the offending line
    assert f"ssh-keygen -R '[127.0.0.1]:{sshd.port}'" in message
    assert not (remote_dir / "ran").exists()
    assert sshd.auth_attempts() == attempts


def test_a_revoked_host_key_is_refused_even_when_also_listed(
    sshd: SshServer, remote_dir: Path
) -> None:
    both = _known_hosts(
        f"[127.0.0.1]:{sshd.port} {sshd.host_public}\n@revoked * {sshd.host_public}\n"
    )

    code, message, _, stdout = _attempt(sshd, remote_dir, known_hosts=both)

    assert code == 1, stdout
    assert message.startswith("host key: the host key of box")
    assert "REVOKED" in message
    assert not (remote_dir / "ran").exists()


def test_hashed_known_hosts_entries_are_honoured(sshd: SshServer, remote_dir: Path) -> None:
    hashed = Path(_known_hosts(sshd.known_hosts.read_text()))
    subprocess.run(["ssh-keygen", "-H", "-f", str(hashed)], capture_output=True, check=True)
    assert "127.0.0.1" not in hashed.read_text()

    code, _, _, stdout = _attempt(sshd, remote_dir, known_hosts=str(hashed))

    assert code == 0, stdout
    assert (remote_dir / "ran").exists()


def test_a_wrong_client_key_is_refused_by_the_server(sshd: SshServer, remote_dir: Path) -> None:
    logins = sshd.logins()

    code, message, took, stdout = _attempt(
        sshd, remote_dir, identity_file=str(sshd.state / "other_ed25519")
    )

    assert code == 1, stdout
    assert message.startswith(
        f"auth: authentication as {sshd.user}@127.0.0.1:{sshd.port} (box) refused"
    )
    assert str(sshd.state / "other_ed25519") in message
    assert "authorized_keys" in message  # the hint
    assert sshd.logins() == logins
    assert not (remote_dir / "ran").exists()
    assert took < 5


def test_a_closed_port_is_refused_at_connect(sshd: SshServer, remote_dir: Path) -> None:
    port = free_port()

    code, message, took, stdout = _attempt(sshd, remote_dir, port=port)

    assert code == 1, stdout
    assert message.startswith(
        f"connect: connection to 127.0.0.1:{port} (box) refused: nothing listens on that port"
    )
    assert took < 3
    assert not (remote_dir / "ran").exists()


@contextlib.contextmanager
def _black_hole() -> Iterator[int]:
    """A port whose accept queue is full: new SYNs are dropped, connect() hangs."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    time.sleep(0.2)
    try:
        yield port
    finally:
        for sock in [*fillers, server]:
            sock.close()


def test_a_black_holed_port_fails_within_the_connect_deadline(
    sshd: SshServer, remote_dir: Path
) -> None:
    with _black_hole() as port:
        code, message, took, stdout = _attempt(sshd, remote_dir, port=port, connect_timeout="1s")

    assert code == 1, stdout
    assert message.startswith(f"connect: no TCP connection to 127.0.0.1:{port} (box) within")
    assert "connect deadline of 1s" in message
    assert 0.9 < took < 3


@contextlib.contextmanager
def _silent_server() -> Iterator[int]:
    """Accepts TCP connections and never says a word."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                accepted.append(server.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        for sock in [*accepted, server]:
            sock.close()


def test_a_port_that_never_sends_a_banner_fails_within_the_banner_deadline(
    sshd: SshServer, remote_dir: Path
) -> None:
    with _silent_server() as port:
        code, message, took, stdout = _attempt(sshd, remote_dir, port=port, banner_timeout="1s")

    assert code == 1, stdout
    assert message.startswith(f"banner: no SSH banner from 127.0.0.1:{port} (box) within")
    assert "banner deadline of 1s" in message
    assert 0.9 < took < 3


@pytest.fixture
def stalling_ssh_server(tmp_path: Path) -> Iterator[tuple[int, str]]:
    """An SSH server (paramiko) that finishes the key exchange, then never answers the
    login: (port, its known_hosts line)."""
    import paramiko

    key = paramiko.Ed25519Key.from_private_key_file(_keygen(tmp_path / "stall_key"))

    class Stall(paramiko.ServerInterface):
        def get_allowed_auths(self, username: str) -> str:
            return "publickey"

        def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
            time.sleep(8)
            return paramiko.AUTH_FAILED

    with _silent_server_socket() as (server, port):
        transports: list[paramiko.Transport] = []

        def serve() -> None:
            with contextlib.suppress(OSError):
                conn, _ = server.accept()
                transport = paramiko.Transport(conn)
                transport.add_server_key(key)
                transport.start_server(server=Stall())
                transports.append(transport)

        threading.Thread(target=serve, daemon=True).start()
        yield port, f"[127.0.0.1]:{port} {key.get_name()} {key.get_base64()}\n"
        for transport in transports:
            transport.close()


def _keygen(path: Path) -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return str(path)


@contextlib.contextmanager
def _silent_server_socket() -> Iterator[tuple[socket.socket, int]]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    try:
        yield server, server.getsockname()[1]
    finally:
        server.close()


def test_a_stalled_login_fails_within_the_auth_deadline(
    sshd: SshServer, remote_dir: Path, stalling_ssh_server: tuple[int, str]
) -> None:
    port, known = stalling_ssh_server

    code, message, took, stdout = _attempt(
        sshd, remote_dir, port=port, known_hosts=_known_hosts(known), auth_timeout="1s"
    )

    assert code == 1, stdout
    assert message.startswith(f"auth: authentication with {sshd.user}@127.0.0.1:{port} (box)")
    assert "auth deadline of 1s" in message
    assert 0.9 < took < 3


@pytest.mark.timeout(60)
def test_an_identity_file_that_is_a_fifo_is_refused_without_waiting(
    sshd: SshServer, remote_dir: Path
) -> None:
    fifo = current_env().work / "id_fifo"
    os.mkfifo(fifo)  # paramiko would wait for a writer for ever

    code, message, took, stdout = _attempt(sshd, remote_dir, identity_file=str(fifo))

    assert code == 1, stdout
    assert f"identity file {fifo} cannot be read as a private key" in message
    assert "not a regular file but a FIFO" in message
    assert took < 5
    assert not (remote_dir / "ran").exists()
