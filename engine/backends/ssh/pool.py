"""One transport per host per run, shared by every step (and its undo) through the run's
`Resources`: connection set-up is paid once. A transport that died is reopened."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, cast

from msgspec import Struct, field

from engine.backends.ssh.connect import open_transport
from engine.backends.ssh.inventory import Host, Inventory, inventory_path, load_inventory
from engine.core.resources import Resources

if TYPE_CHECKING:
    from paramiko import Transport


class Connection(Struct):
    """The transport to one host; opened on first use, reopened when it died."""

    host: Host
    inventory: Inventory
    resources: Resources
    transport: Transport | None = None
    opened: int = 0  # transports opened to this host during the run
    connect_seconds: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self) -> tuple[Transport, bool]:
        """The live transport, and whether this call opened it."""
        with self.lock:
            if self.transport is not None and self.transport.is_active():
                return self.transport, False
            via = None
            if self.host.jump is not None:
                bastion = self.inventory.host(self.host.jump)
                via, _ = connection(bastion, self.inventory, self.resources).get()
            started = time.monotonic()
            self.transport = open_transport(self.host, via)
            self.connect_seconds.append(time.monotonic() - started)
            self.opened += 1
            return self.transport, True

    def close(self) -> None:
        with self.lock:
            if self.transport is not None:
                self.transport.close()
                self.transport = None


def connection(host: Host, inventory: Inventory, resources: Resources) -> Connection:
    """The run's connection to `host` (created on first request, closed with the run)."""
    key = f"ssh:{host.name}:{host.login}"
    created = resources.get(key, lambda: Connection(host, inventory, resources), _close)
    return cast(Connection, created)


def _close(item: object) -> None:
    cast(Connection, item).close()


def run_inventory(setting: str | None, base_dir: Path, resources: Resources) -> Inventory:
    """The inventory of this run, read once (an error is raised again on every request)."""
    path, required = inventory_path(setting, base_dir)
    key = f"ssh-inventory:{path.resolve()}"
    loaded = resources.get(key, lambda: load_inventory(path, required), lambda _: None)
    return cast(Inventory, loaded)
