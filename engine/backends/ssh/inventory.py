"""The hosts file: where each host is, how to log in, and which groups exist.

    defaults: {user: ops, connect_timeout: 5s}          # optional, for every host
    hosts:
      web1: {address: 10.0.0.5, port: 22, user: ops, identity_file: ~/.ssh/ops_ed25519,
             known_hosts: ~/.ssh/known_hosts}
      web2: {address: 10.0.0.6, jump: bastion}
      bastion: {address: 203.0.113.9}
    groups:
      web: [web1, web2]

Timeouts are durations or seconds, more than 0 and at most 24h. Every problem is an
`InventoryError` at the `file:line:col` of the offending node.
Relative paths are relative to the inventory file.
"""

from __future__ import annotations

import getpass
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from msgspec import Struct, field
from msgspec.structs import replace

from engine.backends.ssh.errors import InventoryError
from engine.core.durations import parse_duration
from engine.core.errors import InvalidPlaybook
from engine.core.findings import Location
from engine.core.private_files import UnsafePathError, check_trusted_file
from engine.model.yamlsource import load_source

DEFAULT_NAME = "inventory.yaml"
ENV_VAR = "RUNBOOK_INVENTORY"
TOP_KEYS = ("defaults", "hosts", "groups")
PATH_KEYS = ("identity_file", "known_hosts")
TIMEOUT_KEYS = ("connect_timeout", "banner_timeout", "auth_timeout")
HOST_KEYS = ("address", "port", "user", "jump", *PATH_KEYS, *TIMEOUT_KEYS)
_ADHOC = re.compile(
    r"^(?:(?P<user>[^@\s]+)@)?(?P<host>\[[^\]\s]+\]|[^:@\s\[\]]+)(?::(?P<port>[0-9]+))?\Z"
)
_MAX_TIMEOUT = 24 * 3600.0  # longer is a mistake, and past ~1e9 s sockets refuse it
_PER_HOST = ("address", "jump")  # not allowed under `defaults:`
_SHAPE_HINT = "an inventory has `hosts: {name: {address, user, ...}}` and `groups: {name: [hosts]}`"


class Host(Struct, frozen=True):
    """One SSH endpoint and how to log in to it."""

    name: str
    address: str
    port: int = 22
    user: str = ""
    identity_file: str | None = None
    known_hosts: str | None = None
    jump: str | None = None
    connect_timeout: float = 10.0
    banner_timeout: float = 10.0
    auth_timeout: float = 15.0

    @property
    def login(self) -> str:
        """`user@address:port`, for messages."""
        return f"{self.user or getpass.getuser()}@{self.address}:{self.port}"


class Inventory(Struct, frozen=True):
    file: str = ""
    hosts: Mapping[str, Host] = field(default_factory=dict)
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    defaults: Host = field(default_factory=lambda: Host("", ""))

    def resolve(self, target: str) -> tuple[Host, ...]:
        """The hosts of group `target`, host `target`, or `[user@]address[:port]`."""
        if target in self.groups:
            return tuple(self.hosts[name] for name in self.groups[target])
        if target in self.hosts:
            return (self.hosts[target],)
        return (self._adhoc(target),)

    def host(self, name: str) -> Host:
        """An inventory host by name (a jump host)."""
        if name not in self.hosts:
            raise InventoryError(f"no host {name!r} in {self.file or 'the inventory'}")
        return self.hosts[name]

    def _adhoc(self, target: str) -> Host:
        match = _ADHOC.match(target)
        if match is None:
            where = f"not a host or group of {self.file}" if self.file else "no inventory file"
            raise InventoryError(
                f"target {target!r} is not [user@]host[:port] ({where})",
                "name a host or group of the inventory, or write user@address:port",
            )
        address = match["host"].strip("[]")
        port = int(match["port"]) if match["port"] else self.defaults.port
        user = match["user"] or self.defaults.user
        return replace(self.defaults, name=target, address=address, port=port, user=user)


def inventory_path(
    setting: str | None, base_dir: Path, environ: Mapping[str, str] | None = None
) -> tuple[Path, bool]:
    """The inventory to read, and whether someone named it (then it must exist):
    `--inventory`, else $RUNBOOK_INVENTORY, else `inventory.yaml` beside the playbook."""
    env = os.environ if environ is None else environ
    named = setting or env.get(ENV_VAR)
    if named:
        return Path(named).expanduser(), True
    return base_dir / DEFAULT_NAME, False


def load_inventory(path: Path, required: bool) -> Inventory:
    """Parse the inventory at `path`; an absent optional file is an empty inventory."""
    if not path.exists():
        if required:
            raise InventoryError(
                f"inventory file {path} not found", "pass --inventory FILE or set " + ENV_VAR
            )
        return Inventory()
    _refuse_unless_trusted(path)
    source = _source(str(path))
    return _Parser(source).inventory()


def _refuse_unless_trusted(path: Path) -> None:
    """Whoever can write the inventory chooses where steps run and as whom: it is read only
    when the playbook would be (`engine.playbook.trust`)."""

    try:
        check_trusted_file(path)
    except UnsafePathError as exc:
        raise InventoryError(f"inventory file {path}: {exc.message}", exc.hint) from None


def _source(file: str) -> Any:
    try:
        return load_source(file)
    except InvalidPlaybook as exc:
        first = exc.findings[0]
        hint = _SHAPE_HINT if "apiVersion" in first.hint else first.hint
        raise InventoryError(first.message, hint, first.location) from None


class _Parser:
    """Turns the YAML of an inventory into an `Inventory`, or one precise error."""

    def __init__(self, source: Any) -> None:
        self.source = source
        self.file: str = source.file
        self.base = Path(self.file).resolve().parent

    def error(
        self, path: tuple[str | int, ...], message: str, hint: str = "", key: bool = False
    ) -> InventoryError:
        """The error at `path` (at its key when `key`, e.g. an unknown key)."""
        location: Location = self.source.at(path, key=key)
        return InventoryError(message, hint or _SHAPE_HINT, location)

    def inventory(self) -> Inventory:
        data: dict[str, Any] = self.source.data
        for key in data:
            if key not in TOP_KEYS:
                expected = f"expected {', '.join(TOP_KEYS)}"
                raise self.error((key,), f"unknown key {key!r}", expected, key=True)
        defaults = self.host_fields(("defaults",), Host("", ""), with_address=False)
        hosts = {
            name: self.host_fields(("hosts", name), replace(defaults, name=name, address=name))
            for name in self.mapping(("hosts",))
        }
        groups = self.groups(hosts)
        self.check_jumps(hosts)
        return Inventory(self.file, hosts, groups, defaults)

    def mapping(self, path: tuple[str, ...]) -> dict[str, Any]:
        value: Any = self.source.data
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.error(path, f"`{'.'.join(path)}` must be a mapping")
        return value

    def host_fields(self, path: tuple[str, ...], base: Host, with_address: bool = True) -> Host:
        body = self.mapping(path)
        allowed = HOST_KEYS if with_address else tuple(k for k in HOST_KEYS if k not in _PER_HOST)
        changes: dict[str, Any] = {}
        for key, value in body.items():
            if key not in allowed:
                expected = f"expected {', '.join(allowed)}"
                raise self.error((*path, key), f"unknown key {key!r}", expected, key=True)
            changes[key] = self.field_value((*path, key), key, value)
        return replace(base, **changes)

    def field_value(self, path: tuple[str, ...], key: str, value: Any) -> Any:
        if key == "port":
            if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
                raise self.error(path, f"port must be an integer 1-65535, not {value!r}")
            return value
        if key in TIMEOUT_KEYS:
            return self.seconds(path, value)
        if not isinstance(value, str) or not value:
            raise self.error(path, f"{key} must be a non-empty string, not {value!r}")
        if key in PATH_KEYS:
            return str(self.base / Path(value).expanduser())
        return value

    def seconds(self, path: tuple[str, ...], value: Any) -> float:
        """A timeout: a duration, or a number of seconds; more than 0, at most a day."""
        if isinstance(value, int | float) and not isinstance(value, bool):
            seconds = float(min(value, _MAX_TIMEOUT + 1))  # an int float() cannot hold
        else:
            try:
                seconds = parse_duration(value) if isinstance(value, str) else 0.0
            except ValueError as exc:
                raise self.error(path, str(exc), "a duration: 500ms, 5s, 1m") from None
        if not 0 < seconds <= _MAX_TIMEOUT:
            shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
            message = f"{path[-1]} must be a positive duration of at most 24h, not {shown}"
            raise self.error(path, message)
        return seconds

    def groups(self, hosts: Mapping[str, Host]) -> dict[str, tuple[str, ...]]:
        groups: dict[str, tuple[str, ...]] = {}
        for name, members in self.mapping(("groups",)).items():
            path = ("groups", name)
            if name in hosts:
                raise self.error(path, f"{name!r} is both a host and a group", "rename one")
            if not isinstance(members, list) or not members:
                raise self.error(path, f"group {name!r} must be a non-empty list of host names")
            for index, member in enumerate(members):
                if member not in hosts:
                    raise self.error((*path, index), f"group {name!r}: no host {member!r}")
            groups[name] = tuple(members)
        return groups

    def check_jumps(self, hosts: Mapping[str, Host]) -> None:
        for name, host in hosts.items():
            seen = [name]
            current = host
            while current.jump is not None:
                path = ("hosts", seen[-1], "jump")
                if current.jump not in hosts:
                    raise self.error(
                        path, f"jump host {current.jump!r} is not in the inventory",
                        "`jump:` names another host under `hosts:`",
                    )  # fmt: skip
                if current.jump in seen:
                    chain = " -> ".join([*seen, current.jump])
                    raise self.error(path, f"jump hosts form a loop: {chain}")
                seen.append(current.jump)
                current = hosts[current.jump]
