"""A real OpenSSH server on loopback, started once per test session.

- Listens on 127.0.0.1 on a free port; host key and client keys are generated per session.
- Logs in a clean user of the session's own (`runbook-ssh-<pid>`, shell /bin/sh, no rc
  files), created with `useradd` when the session starts, unlocked with `usermod -p '*'`
  (with `UsePAM no`, a `!` password means "locked"), and removed with its home
  (`userdel -r`) when the session ends, passed or failed; a user left by a session that
  was killed is removed by the next one. Its authorized keys live under its own
  `~/.ssh` so that `StrictModes yes` holds.
- sshd's privilege separation folder /run/sshd is made when missing and removed when the
  last session that uses it ends (each holds a shared lock on it; a marker inside says
  the tests made it), so concurrent sessions never pull it from under each other.
- Not root: sshd runs as the current user, who is then the only one who can log in
  (its keys in the session's private folder, `StrictModes no`).
- `sshd` missing: the tests using it are skipped, but fail under CI=true (`.ci/run`
  installs openssh-server).
"""

from __future__ import annotations

import contextlib
import fcntl
import getpass
import os
import pwd
import re
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from components import free_port, require_binary

USER_PREFIX = "runbook-ssh-"  # + the pid of the test session that owns the user
PRIVSEP = Path("/run/sshd")  # compiled into sshd: where its unprivileged child chroots
PRIVSEP_MARKER = ".made-by-runbook-tests"
BUSY_PASSWD = 10  # useradd/userdel: /etc/passwd is locked by another process
ADDRESS = "127.0.0.1"

SSHD_CONFIG = """\
Port {port}
ListenAddress {address}
HostKey {state}/ssh_host_ed25519_key
PidFile none
AuthorizedKeysFile {authorized_keys}
AllowUsers {user}
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
StrictModes {strict}
UsePAM no
UseDNS no
PrintMotd no
PrintLastLog no
PermitUserEnvironment no
AllowTcpForwarding yes
MaxStartups 100:30:200
MaxSessions 100
LogLevel VERBOSE
Subsystem sftp internal-sftp
"""


@dataclass
class SshServer:
    """The running sshd and what a client needs to reach it."""

    port: int
    user: str
    home: Path  # where per-test work folders are made (owned by `user`)
    state: Path  # root-only: keys, config, log
    client_key: Path
    other_key: Path  # a valid key the server does not know
    known_hosts: Path
    host_public: str  # "ssh-ed25519 AAAA…"
    log: Path
    process: subprocess.Popen[bytes]
    address: str = ADDRESS
    authorized_keys: Path = field(default_factory=Path)

    def host(self, **overrides: Any) -> dict[str, Any]:
        """An inventory host entry for this server (override any key)."""
        entry: dict[str, Any] = {
            "address": self.address,
            "port": self.port,
            "user": self.user,
            "identity_file": str(self.client_key),
            "known_hosts": str(self.known_hosts),
        }
        entry.update(overrides)
        return {key: value for key, value in entry.items() if value is not None}

    def inventory(
        self,
        path: Path,
        hosts: dict[str, dict[str, Any]] | None = None,
        groups: dict[str, list[str]] | None = None,
        **extra: Any,
    ) -> Path:
        """Write an inventory file (default: one host `box`) and return its path."""
        data: dict[str, Any] = {"hosts": hosts if hosts is not None else {"box": self.host()}}
        if groups:
            data["groups"] = groups
        data.update(extra)
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def logins(self) -> int:
        """Connections that authenticated so far (one per transport)."""
        return self.log_text().count(f"Accepted publickey for {self.user} ")

    def auth_attempts(self) -> int:
        """Any public key offered so far, accepted or not."""
        return len(re.findall(r"(Accepted|Failed|Postponed) publickey", self.log_text()))


def _run(*argv: str) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {done.stderr.strip()}")
    return done.stdout


def _run_account_tool(*argv: str) -> None:
    """useradd/usermod/userdel, again while another process holds /etc/passwd's lock."""
    deadline = time.monotonic() + 30
    while True:
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode == 0:
            return
        if done.returncode != BUSY_PASSWD or time.monotonic() > deadline:
            raise RuntimeError(f"{' '.join(argv)} failed: {done.stderr.strip()}")
        time.sleep(0.1)


def _remove_user(user: str) -> None:
    """The user, its home and its processes (all of them this session's own)."""
    subprocess.run(["pkill", "-KILL", "-U", user], capture_output=True, check=False)
    _run_account_tool("userdel", "--remove", "--force", user)


def _remove_users_of_dead_sessions() -> None:
    """Users that a killed test session could not remove (its pid is gone)."""
    for entry in pwd.getpwall():
        pid = entry.pw_name.removeprefix(USER_PREFIX)
        if entry.pw_name.startswith(USER_PREFIX) and pid.isdigit() and not _alive(int(pid)):
            with contextlib.suppress(RuntimeError):  # another session removed it first
                _remove_user(entry.pw_name)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def session_user() -> Iterator[tuple[str, Path]]:
    """The session's clean login user and its home, removed (with the home) at the end."""
    _remove_users_of_dead_sessions()
    user = f"{USER_PREFIX}{os.getpid()}"
    useradd = require_binary("useradd", "passwd")
    _run_account_tool(useradd, "--create-home", "--shell", "/bin/sh",
                      "--comment", "runbook-engine tests", user)  # fmt: skip
    try:
        _run_account_tool("usermod", "-p", "*", user)  # unlock: "!" in shadow means locked
        home = Path(pwd.getpwnam(user).pw_dir)
        ssh_dir = home / ".ssh"
        ssh_dir.mkdir(mode=0o700, exist_ok=True)
        shutil.chown(ssh_dir, user, user)
        home.chmod(0o755)
        yield user, home
    finally:
        _remove_user(user)


@contextlib.contextmanager
def privsep_dir(path: Path = PRIVSEP) -> Iterator[None]:
    """/run/sshd while the session runs; removed by the last session that uses it, if a
    test session made it (the machine's own is left as it was)."""
    while True:
        with contextlib.suppress(FileExistsError):
            path.mkdir(mode=0o755)
            (path / PRIVSEP_MARKER).touch()
        try:
            held = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        except FileNotFoundError:  # the last other session just removed it
            continue
        fcntl.flock(held, fcntl.LOCK_SH)
        if _same_file(held, path):
            break
        os.close(held)  # removed (and maybe made again) while we waited for the lock
    try:
        yield
    finally:
        _leave_privsep_dir(held, path)


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.path.samestat(os.fstat(fd), path.stat())
    except FileNotFoundError:
        return False


def _leave_privsep_dir(held: int, path: Path) -> None:
    try:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # only when no session holds it
        if (path / PRIVSEP_MARKER).exists():
            (path / PRIVSEP_MARKER).unlink()
            path.rmdir()
    except BlockingIOError:
        pass  # another session's sshd still needs it: the last one removes it
    finally:
        os.close(held)


@contextlib.contextmanager
def sudoers_rule(name: str, text: str) -> Iterator[Path]:
    """`text` as a rule of /etc/sudoers.d/ (`name`-<pid>) while the caller needs it,
    removed afterwards, also when a test or the check fails. Written under a name sudo
    skips (it has a dot) and moved in place only once `visudo -c` accepts it, so a bad
    rule never reaches sudo."""
    rule = Path(f"/etc/sudoers.d/{name}-{os.getpid()}")
    draft = rule.with_name(f"{rule.name}.draft")
    try:
        draft.write_text(text)
        draft.chmod(0o440)
        subprocess.run(["visudo", "-cf", str(draft)], check=True, capture_output=True)
        draft.rename(rule)
        yield rule
    finally:
        draft.unlink(missing_ok=True)
        rule.unlink(missing_ok=True)


def _keygen(path: Path, comment: str) -> None:
    keygen = require_binary("ssh-keygen", "openssh-client")
    _run(keygen, "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path))


def _login(state: Path, port: int, account: tuple[str, Path] | None) -> tuple[str, Path, Path, str]:
    """(user, home for work folders, authorized_keys file, StrictModes); `account`: the
    session's own user and home (root), else the current user logs in."""
    if account is None:
        return getpass.getuser(), state / "work", state / "authorized_keys", "no"
    user, home = account
    return user, home, home / ".ssh" / f"runbook-tests-{port}.keys", "yes"


def _authorize(key_file: Path, public: str, user: str) -> None:
    key_file.write_text(public)
    key_file.chmod(0o600)
    if os.geteuid() == 0:
        shutil.chown(key_file, user, user)


def _wait_for_banner(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"sshd exited {process.returncode}:\n{log.read_text()}")
        with contextlib.suppress(OSError), socket.create_connection((ADDRESS, port), 1) as sock:
            sock.settimeout(2)
            if sock.recv(64).startswith(b"SSH-2.0-"):
                return
        time.sleep(0.05)
    raise RuntimeError(f"sshd never served a banner:\n{log.read_text()}")


def _start(sshd: str, state: Path, account: tuple[str, Path] | None) -> SshServer:
    port = free_port()
    user, home, authorized, strict = _login(state, port, account)
    home.mkdir(exist_ok=True)
    _authorize(authorized, (state / "client_ed25519.pub").read_text(), user)
    config = state / f"sshd_config-{port}"
    config.write_text(SSHD_CONFIG.format(
        port=port, address=ADDRESS, state=state, authorized_keys=authorized, user=user,
        strict=strict))  # fmt: skip
    _run(sshd, "-t", "-f", str(config))
    log = state / f"sshd-{port}.log"
    process = subprocess.Popen(
        [sshd, "-D", "-f", str(config), "-E", str(log)],
        stdin=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    _wait_for_banner(port, process, log)
    host_public = " ".join((state / "ssh_host_ed25519_key.pub").read_text().split()[:2])
    known_hosts = state / f"known_hosts-{port}"
    known_hosts.write_text(f"[{ADDRESS}]:{port} {host_public}\n")
    return SshServer(
        port, user, home, state, state / "client_ed25519", state / "other_ed25519",
        known_hosts, host_public, log, process, authorized_keys=authorized,
    )  # fmt: skip


@contextlib.contextmanager
def sibling_sshd(
    sshd: SshServer, extra_config: str = "", launcher: Sequence[str] = ()
) -> Iterator[SshServer]:
    """A second sshd with the session's keys, user and config, on a port of its own,
    plus `extra_config` lines; started as `[*launcher, sshd, -D, -f, CONFIG, -E, LOG]`
    (a launcher sets up what the server needs, e.g. a mount namespace, then execs it)."""
    port = free_port()
    config = (sshd.state / f"sshd_config-{sshd.port}").read_text()
    config = re.sub(r"^Port \d+$", f"Port {port}", config, flags=re.M) + extra_config
    path = sshd.state / f"sshd_config-{port}"
    path.write_text(config)
    log = sshd.state / f"sshd-{port}.log"
    binary = shutil.which("sshd") or "/usr/sbin/sshd"
    process = subprocess.Popen(
        [*launcher, binary, "-D", "-f", str(path), "-E", str(log)],
        stdin=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        _wait_for_banner(port, process, log)
        known_hosts = sshd.state / f"known_hosts-{port}"
        known_hosts.write_text(f"[{sshd.address}]:{port} {sshd.host_public}\n")
        yield replace(sshd, port=port, process=process, known_hosts=known_hosts, log=log)
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshServer]:
    """The session's sshd (skipped without openssh-server; a failure under CI=true)."""
    binary = shutil.which("sshd") or "/usr/sbin/sshd"
    if not os.path.exists(binary):
        binary = require_binary("sshd", "openssh-server")
    state = tmp_path_factory.mktemp("sshd")
    state.chmod(0o700)
    for name in ("ssh_host_ed25519_key", "client_ed25519", "other_ed25519"):
        _keygen(state / name, name)
    with contextlib.ExitStack() as session:  # undone in reverse, also after a failure
        account = None
        if os.geteuid() == 0:
            session.enter_context(privsep_dir())
            account = session.enter_context(session_user())
        server = _start(binary, state, account)
        session.callback(_stop, server)
        yield server


def _stop(server: SshServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=10)
    server.authorized_keys.unlink(missing_ok=True)


@pytest.fixture
def remote_dir(sshd: SshServer) -> Iterator[Path]:
    """A fresh folder the SSH user owns (side-effect files of remote commands)."""
    folder = sshd.home / f"runbook-test-{uuid.uuid4().hex[:12]}"
    folder.mkdir(mode=0o755)
    if os.geteuid() == 0:
        shutil.chown(folder, sshd.user, sshd.user)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


SSH_PLAYBOOKS = Path(__file__).resolve().parent / "playbooks" / "ssh"


def ssh_playbook(name: str) -> str:
    """The path of a playbook under tests/playbooks/ssh/."""
    path = SSH_PLAYBOOKS / name
    assert path.is_file(), path
    return str(path)


def session_children(server: SshServer) -> list[int]:
    """PIDs of the per-connection processes of this sshd (not of any other sshd); each
    leads the process group of its connection's server side."""
    found = subprocess.run(
        ["pgrep", "-P", str(server.process.pid)], capture_output=True, text=True, check=False
    )
    return [int(pid) for pid in found.stdout.split()]


def wait_gone(transport: Any, timeout: float = 10.0) -> None:
    """Until a paramiko transport noticed that its connection died."""
    deadline = time.monotonic() + timeout
    while transport.is_active():
        assert time.monotonic() < deadline, "the transport never noticed the lost connection"
        time.sleep(0.02)
