"""`runbook serve`: check the settings, open the ledger, read the playbooks, listen.

Nothing listens until everything is checked: a non-loopback address without
credentials, an unreadable or shared credentials file, an invalid playbook, a TLS
certificate without its key — each is a usage error (exit 2) before the port opens.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import resource
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import uvicorn
from msgspec import Struct

from engine.backends.local.containment import slow_moves
from engine.core.errors import UsageError
from engine.hooks.app import Limits, Service, create_app
from engine.hooks.auth import load_credentials
from engine.hooks.catalog import Catalog
from engine.hooks.config import load_config
from engine.hooks.dispatcher import Dispatcher
from engine.hooks.http_protocol import with_head_deadline
from engine.hooks.metrics import ServeMetrics
from engine.ledger import LEDGER_FILE, Ledger, default_home

log = logging.getLogger("runbook.serve")

DEFAULT_LISTEN = "127.0.0.1:9095"
# Open files a server asks for (the soft limit is raised to it, within the hard limit, as
# servers do: 1024 would cap it at a few hundred connections).
WANTED_OPEN_FILES = 65536


class ServeSettings(Struct, frozen=True):
    """What `runbook serve` was asked for."""

    playbooks: str
    listen: str = DEFAULT_LISTEN
    token_file: str | None = None
    basic_auth_file: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    concurrency: int = 4
    limits: Limits = Limits()
    drain_seconds: float = 30.0
    home: Path | None = None
    config: str | None = None  # --config FILE: guards, budget and escalation defaults


def serve(settings: ServeSettings) -> None:
    """Listen until SIGINT or SIGTERM; then stop taking alerts, drain, and return (the
    process then exits 0)."""
    host, port = parse_listen(settings.listen)
    credentials = load_credentials(settings.token_file, settings.basic_auth_file)
    if not credentials.required and not is_loopback(host):
        raise UsageError(
            f"refusing to listen on {host} without authentication",
            hint="pass --token-file (or --basic-auth-file), or listen on 127.0.0.1",
        )
    if bool(settings.tls_cert) != bool(settings.tls_key):
        raise UsageError("TLS needs both --tls-cert and --tls-key")
    config = load_config(settings.config)
    catalog = Catalog(settings.playbooks)
    playbooks = catalog.load()
    _configure_logging()
    home = settings.home or default_home()
    with Ledger.open(home / LEDGER_FILE) as ledger:
        metrics = ServeMetrics()
        dispatcher = Dispatcher(
            ledger, catalog, metrics, home=home, concurrency=settings.concurrency, config=config
        )
        service = Service(
            ledger, credentials, dispatcher, metrics, settings.limits, settings.drain_seconds
        )
        uvicorn_config = uvicorn.Config(
            create_app(service),
            host=host,
            port=port,
            log_config=None,
            access_log=False,
            server_header=False,
            ssl_certfile=settings.tls_cert,
            ssl_keyfile=settings.tls_key,
            timeout_graceful_shutdown=max(1, round(settings.drain_seconds)),
            http=with_head_deadline(settings.limits.body_seconds),
            # beyond this many connections and requests at once, a 503 at once (which
            # Alertmanager retries) rather than file descriptors run out
            limit_concurrency=connection_limit(),
        )
        log.info(
            "serving %d playbook(s) with triggers from %s on %s://%s:%d",
            len(playbooks),
            settings.playbooks,
            "https" if settings.tls_cert else "http",
            host,
            port,
        )
        _hint_slow_moves()
        with _stop_signals_end_cleanly():
            _Server(uvicorn_config, service).run()


class _Server(uvicorn.Server):
    """uvicorn's server, which notes when it was told to stop: the drain counts from
    then (the requests in flight, then the runs), not once per phase."""

    def __init__(self, config: uvicorn.Config, service: Service) -> None:
        super().__init__(config)
        self.service = service

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.service.stop_asked_at is None:
            self.service.stop_asked_at = time.monotonic()
        super().handle_exit(sig, frame)


@contextlib.contextmanager
def _stop_signals_end_cleanly() -> Iterator[None]:
    """SIGTERM and SIGINT stop the server gracefully (uvicorn's handlers); once it has
    stopped, uvicorn raises the signal again for the handlers it found. Ours take it, so
    the process exits 0 after a clean stop, as systemd and Kubernetes expect of a
    service told to stop (not 143 or 130, which they count as a failure). A server
    started on another thread (embedded) leaves signals alone, as uvicorn does."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    signals = (signal.SIGTERM, signal.SIGINT)
    previous = {number: signal.signal(number, _stopped_by) for number in signals}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _stopped_by(number: int, _: FrameType | None) -> None:
    log.info("stopped by %s", signal.Signals(number).name)


def _hint_slow_moves() -> None:
    mount = slow_moves()
    if mount is not None:
        log.info(
            "commands start in cgroups of their own under %s, mounted without"
            " `favordynmods`: each run's first command waits 5-25 ms for the kernel;"
            " `mount -o remount,favordynmods %s` (Linux >= 6.0) removes the wait",
            mount,
            mount,
        )


def connection_limit() -> int:
    """How many connections and requests at once: half the open files this process may
    have, after raising its soft limit as far as allowed (runs need files too)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = WANTED_OPEN_FILES if hard == resource.RLIM_INFINITY else min(hard, WANTED_OPEN_FILES)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
    return max(64, soft // 2) if soft != resource.RLIM_INFINITY else WANTED_OPEN_FILES // 2


def parse_listen(listen: str) -> tuple[str, int]:
    """`HOST:PORT` (`[::1]:9095` for IPv6) as (host, port); UsageError otherwise."""
    host, sep, port = listen.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(
            f"--listen {listen!r}: expected HOST:PORT", hint="for example 127.0.0.1:9095"
        )
    return host, int(port)


def is_loopback(host: str) -> bool:
    """Whether `host` names this machine's loopback only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _configure_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    for name in ("runbook.serve", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(logging.INFO)
        logger.propagate = False
