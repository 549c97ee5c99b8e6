"""Open one authenticated SSH transport, each phase under its own deadline.

connect (TCP, or a `direct-tcpip` channel through a jump host) → banner and key
exchange → host key check → authentication. A failure raises the `RemoteError` of its
phase; the host key is checked before any credential is offered.
"""

from __future__ import annotations

import getpass
import logging
import os
import socket
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.backends.ssh.errors import AuthError, BannerError, ConnectError
from engine.backends.ssh.hostkeys import ServerKey, preferred_types, verify
from engine.backends.ssh.inventory import Host
from engine.core.regular_file import check_regular

if TYPE_CHECKING:
    from paramiko import PKey, Transport

DEFAULT_KEYS = ("~/.ssh/id_ed25519", "~/.ssh/id_ecdsa", "~/.ssh/id_rsa")
KEEPALIVE_SECONDS = 15


def open_transport(host: Host, via: Transport | None = None) -> Transport:
    """An authenticated transport to `host` (through `via` when it has a jump host)."""
    import paramiko

    _quiet_paramiko()
    sock = _jump_channel(host, via) if via is not None else _tcp(host)
    transport = paramiko.Transport(sock)
    try:
        _handshake(transport, host)
        _check_host_key(transport, host)
        _authenticate(transport, host)
    except BaseException:
        transport.close()
        raise
    transport.set_keepalive(KEEPALIVE_SECONDS)
    return transport


def _quiet_paramiko() -> None:
    """paramiko logs transport errors (with tracebacks) that we report ourselves."""
    logger = logging.getLogger("paramiko")
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
        logger.propagate = False


def _tcp(host: Host) -> socket.socket:
    where = f"{host.address}:{host.port}"
    try:
        sock = socket.create_connection((host.address, host.port), timeout=host.connect_timeout)
    except TimeoutError:
        raise ConnectError(
            f"no TCP connection to {where} ({host.name}) within the connect deadline "
            f"of {host.connect_timeout:g}s",
            "is the host up and the port open? connect_timeout in the inventory sets the wait",
        ) from None
    except ConnectionRefusedError:
        raise ConnectError(
            f"connection to {where} ({host.name}) refused: nothing listens on that port",
            "check the address and port in the inventory, and that sshd runs",
        ) from None
    except socket.gaierror as exc:
        raise ConnectError(
            f"cannot resolve {host.address!r} ({host.name}): {exc.strerror}"
        ) from None
    except OSError as exc:
        raise ConnectError(f"cannot connect to {where} ({host.name}): {exc.strerror}") from None
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # small packets, no 40 ms stalls
    return sock


def _jump_channel(host: Host, via: Transport) -> Any:
    import paramiko

    where = f"{host.address}:{host.port}"
    try:
        return via.open_channel(
            "direct-tcpip",
            (host.address, host.port),
            ("127.0.0.1", 0),
            timeout=host.connect_timeout,
        )
    except paramiko.ChannelException as exc:
        raise ConnectError(
            f"jump host {host.jump} could not reach {where} ({host.name}): {exc.text}",
            "check the address from the jump host's side, and its AllowTcpForwarding",
        ) from None
    except paramiko.SSHException as exc:
        raise ConnectError(
            f"no forwarded connection to {where} through {host.jump} within the connect "
            f"deadline of {host.connect_timeout:g}s ({exc})"
        ) from None


def _handshake(transport: Transport, host: Host) -> None:
    """Banner and key exchange within `banner_timeout`; BannerError otherwise."""
    transport.banner_timeout = host.banner_timeout
    transport.handshake_timeout = host.banner_timeout
    _prefer_known_key_types(transport, host)
    done = threading.Event()
    transport.start_client(event=done)
    deadline = time.monotonic() + host.banner_timeout
    while not done.wait(0.05):
        if not transport.is_active() or time.monotonic() >= deadline:
            break
    if not transport.is_active() or not done.is_set():
        raise _handshake_error(transport, host)


def _handshake_error(transport: Transport, host: Host) -> BannerError:
    where = f"{host.address}:{host.port} ({host.name})"
    problem = transport.get_exception()
    if not transport.remote_version or "banner" in str(problem).lower():
        return BannerError(
            f"no SSH banner from {where} within the banner deadline of "
            f"{host.banner_timeout:g}s: TCP connected but the server said nothing",
            "is that port really sshd? banner_timeout in the inventory sets the wait",
        )
    reason = str(problem) if problem else f"not finished within {host.banner_timeout:g}s"
    return BannerError(f"SSH key exchange with {where} failed: {reason}")


def _prefer_known_key_types(transport: Transport, host: Host) -> None:
    """Ask for the key types known_hosts has for this host first (as OpenSSH does)."""
    known = set(preferred_types(host))
    if not known:
        return
    options = transport.get_security_options()
    offered = list(options.key_types)
    first = [algo for algo in offered if _family(algo) in known]
    options.key_types = first + [algo for algo in offered if algo not in first]


def _family(algorithm: str) -> str:
    return "ssh-rsa" if algorithm.startswith("rsa-sha2-") else algorithm


def _check_host_key(transport: Transport, host: Host) -> None:
    key = transport.get_remote_server_key()
    verify(host, ServerKey(key.get_name(), key.asbytes()))


def _authenticate(transport: Transport, host: Host) -> None:
    """Offer each key in turn until one is accepted, all within `auth_timeout`."""
    import paramiko

    user = host.user or _local_user()
    deadline = time.monotonic() + host.auth_timeout
    keys = _keys(host)
    for _label, key in keys:
        transport.auth_timeout = max(0.01, deadline - time.monotonic())
        try:
            transport.auth_publickey(user, key)
            return
        except paramiko.BadAuthenticationType as exc:
            raise AuthError(
                f"{host.login} does not accept public keys (only {', '.join(exc.allowed_types)})"
            ) from None
        except paramiko.AuthenticationException as exc:
            if "timeout" in str(exc).lower() or time.monotonic() >= deadline:
                raise _auth_deadline(host) from None
        except paramiko.SSHException as exc:
            raise AuthError(f"authentication with {host.login} broke off: {exc}") from None
    raise _refused(host, [label for label, _ in keys])


def _auth_deadline(host: Host) -> AuthError:
    return AuthError(
        f"authentication with {host.login} ({host.name}) did not finish within the auth "
        f"deadline of {host.auth_timeout:g}s",
        "the server stalls during login; auth_timeout in the inventory sets the wait",
    )


def _refused(host: Host, labels: list[str]) -> AuthError:
    tried = ", ".join(labels) or "no key at all"
    return AuthError(
        f"authentication as {host.login} ({host.name}) refused: the server accepted none of "
        f"the keys offered ({tried})",
        f"add the public key to ~{host.user or _local_user()}/.ssh/authorized_keys on the host, "
        "or point identity_file in the inventory at the right key",
    )


def _keys(host: Host) -> list[tuple[str, PKey]]:
    """The inventory's identity_file only; else the agent's keys and ~/.ssh/id_*."""
    if host.identity_file:
        return [(host.identity_file, _load_key(Path(host.identity_file)))]
    keys: list[tuple[str, PKey]] = []
    if os.environ.get("SSH_AUTH_SOCK"):
        import paramiko

        keys += [(f"agent key {k.fingerprint}", k) for k in paramiko.Agent().get_keys()]
    for name in DEFAULT_KEYS:
        path = Path(name).expanduser()
        if path.is_file():
            keys.append((str(path), _load_key(path)))
    return keys


def _load_key(path: Path) -> PKey:
    import paramiko
    from paramiko.pkey import UnknownKeyType

    try:
        check_regular(path)  # paramiko would wait for ever on a FIFO
        return paramiko.PKey.from_path(path)
    except FileNotFoundError:
        raise AuthError(f"identity file {path} does not exist") from None
    except paramiko.PasswordRequiredException:
        raise AuthError(
            f"identity file {path} is encrypted", "load it into ssh-agent (ssh-add) instead"
        ) from None
    except (OSError, ValueError, paramiko.SSHException, UnknownKeyType) as exc:
        raise AuthError(f"identity file {path} cannot be read as a private key: {exc}") from None


def _local_user() -> str:
    return getpass.getuser()
