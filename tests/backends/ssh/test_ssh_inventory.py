"""The inventory file: its shape, defaults, targets, and a precise `file:line:col` error
for each way it can be wrong (no sshd needed)."""

from __future__ import annotations

import base64
import os
import textwrap
from pathlib import Path

import pytest

from engine.backends.ssh.errors import HostKeyError, InventoryError
from engine.backends.ssh.hostkeys import Entry, ServerKey, matches, verify
from engine.backends.ssh.inventory import Host, inventory_path, load_inventory

GOOD = """\
defaults: {user: ops, connect_timeout: 3s}
hosts:
  web1: {address: 10.0.0.5, port: 2222, identity_file: keys/ops, known_hosts: ~/kh}
  web2: {address: 10.0.0.6, jump: bastion, user: deploy}
  bastion: {address: 203.0.113.9, auth_timeout: 2.5}
  plain:
groups:
  web: [web2, web1]
"""


def _load(tmp_path: Path, text: str) -> object:
    path = tmp_path / "inventory.yaml"
    path.write_text(textwrap.dedent(text))
    return load_inventory(path, required=True)


def test_a_good_inventory_resolves_hosts_groups_and_addresses(tmp_path: Path) -> None:
    inventory = _load(tmp_path, GOOD)

    (web1,) = inventory.resolve("web1")  # type: ignore[attr-defined]
    assert web1 == Host(
        "web1", "10.0.0.5", 2222, "ops", str(tmp_path / "keys/ops"),
        str(Path("~/kh").expanduser()), None, 3.0, 10.0, 15.0,
    )  # fmt: skip
    assert [h.name for h in inventory.resolve("web")] == ["web2", "web1"]  # type: ignore[attr-defined]
    assert inventory.resolve("web2")[0].jump == "bastion"  # type: ignore[attr-defined]
    assert inventory.resolve("bastion")[0].auth_timeout == 2.5  # type: ignore[attr-defined]
    assert inventory.resolve("plain")[0].address == "plain"  # type: ignore[attr-defined]
    (adhoc,) = inventory.resolve("root@192.0.2.1:2200")  # type: ignore[attr-defined]
    assert (adhoc.user, adhoc.address, adhoc.port, adhoc.connect_timeout) == (
        "root", "192.0.2.1", 2200, 3.0,
    )  # fmt: skip
    (v6,) = inventory.resolve("[::1]:22")  # type: ignore[attr-defined]
    assert (v6.address, v6.port, v6.user) == ("::1", 22, "ops")


@pytest.mark.parametrize(
    ("text", "line", "col", "message"),
    [
        ("hosts: {a: {address: x}\n", 1, 8, "never closed"),  # YAML syntax
        ("hosts: {}\nhostz: {}\n", 2, 1, "unknown key 'hostz'"),
        ("hosts:\n  a: {adress: x}\n", 2, 7, "unknown key 'adress'"),
        ("hosts:\n  a: {port: 70000}\n", 2, 13, "port must be an integer 1-65535"),
        ("hosts:\n  a: {port: '22'}\n", 2, 13, "port must be an integer 1-65535"),
        ("hosts:\n  a: {connect_timeout: soon}\n", 2, 24, "is not a duration"),
        ("hosts:\n  a: {user: 7}\n", 2, 13, "user must be a non-empty string"),
        ("hosts:\n  a:\ngroups:\n  g: [a, b]\n", 4, 10, "group 'g': no host 'b'"),
        ("hosts:\n  a:\ngroups:\n  a: [a]\n", 4, 6, "'a' is both a host and a group"),
        ("hosts:\n  a:\ngroups:\n  g: a\n", 4, 6, "must be a non-empty list"),
        ("hosts:\n  a: {jump: b}\n", 2, 13, "jump host 'b' is not in the inventory"),
        ("hosts:\n  a: {jump: b}\n  b: {jump: a}\n", 3, 13, "jump hosts form a loop: a -> b -> a"),
        ("hosts: [a, b]\n", 1, 8, "`hosts` must be a mapping"),
        ("defaults: {jump: a}\nhosts: {a: }\n", 1, 12, "unknown key 'jump'"),
        ("- a\n- b\n", 1, 1, "not a mapping"),
        ("hosts:\n  a: {}\n  a: {}\n", 3, 3, "duplicate"),
        ("hosts:\n  a: {port: 0022}\n", 2, 13, "'0022' means 18 in YAML 1.1 but 22 in YAML 1.2"),
        ("hosts:\n  a: {auth_timeout: .nan}\n", 2, 21, "'.nan' is not a finite number"),
        (f"hosts:\n  a: {{auth_timeout: 1{'0' * 400}}}\n", 2, 21, "beyond ±(2^53 - 1)"),
        (f"hosts:\n  a: {{auth_timeout: {2**53 - 1}}}\n", 2, 21, "at most 24h, not 9007"),
        ("hosts:\n  a: {connect_timeout: 1.0e+300}\n", 2, 24, "at most 24h, not 1e+300"),
        ("hosts:\n  a: {connect_timeout: 25h}\n", 2, 24, "at most 24h, not '25h'"),
        ("hosts:\n  a: {connect_timeout: 0}\n", 2, 24, "must be a positive duration"),
    ],
)
def test_a_bad_inventory_names_file_line_and_column(
    tmp_path: Path, text: str, line: int, col: int, message: str
) -> None:
    with pytest.raises(InventoryError) as caught:
        _load(tmp_path, text)

    error = caught.value
    assert error.location is not None
    assert (error.location.file, error.location.line) == (str(tmp_path / "inventory.yaml"), line)
    assert error.location.col == col
    assert message in error.message
    assert "apiVersion" not in error.hint  # not the playbook's hint
    assert error.summary().startswith(f"inventory: {tmp_path / 'inventory.yaml'}:{line}:{col}: ")


def test_which_inventory_is_read(tmp_path: Path) -> None:
    assert inventory_path("given.yaml", tmp_path, {"RUNBOOK_INVENTORY": "env.yaml"}) == (
        Path("given.yaml"), True,
    )  # fmt: skip
    assert inventory_path(None, tmp_path, {"RUNBOOK_INVENTORY": "env.yaml"}) == (
        Path("env.yaml"), True,
    )  # fmt: skip
    assert inventory_path(None, tmp_path, {}) == (tmp_path / "inventory.yaml", False)
    assert load_inventory(tmp_path / "absent.yaml", required=False).hosts == {}
    with pytest.raises(InventoryError, match="not found"):
        load_inventory(tmp_path / "absent.yaml", required=True)


def test_an_unparseable_target_is_refused(tmp_path: Path) -> None:
    inventory = _load(tmp_path, GOOD)

    with pytest.raises(InventoryError, match="not a host or group of"):
        inventory.resolve("bad target")  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("patterns", "name", "expected"),
    [
        ("[127.0.0.1]:2222", "[127.0.0.1]:2222", True),
        ("[127.0.0.1]:2222", "127.0.0.1", False),
        ("127.0.0.1", "[127.0.0.1]:2222", False),
        ("web*.example.com", "web7.example.com", True),
        ("web?.example.com", "web10.example.com", False),
        ("*.example.com,!db.example.com", "db.example.com", False),
        ("Web1", "web1", True),
    ],
)
def test_known_hosts_patterns(patterns: str, name: str, expected: bool) -> None:
    entry = Entry(tuple(patterns.split(",")), "ssh-ed25519", b"", "kh:1")

    assert matches(entry, name) is expected


def test_an_inventory_others_can_write_or_own_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "inventory.yaml"
    path.write_text(GOOD)
    path.chmod(0o664)  # whoever can write it chooses the hosts that steps run on
    with pytest.raises(InventoryError, match="writable by others") as caught:
        load_inventory(path, required=True)
    assert caught.value.hint == f"`chmod go-w {path}`"
    path.chmod(0o644)
    os.chown(path, 65534, 65534)
    with pytest.raises(InventoryError, match="owned by uid 65534"):
        load_inventory(path, required=True)


def test_a_known_hosts_file_others_can_write_is_refused(tmp_path: Path) -> None:
    blob = b"key bytes"
    known = tmp_path / "known_hosts"
    known.write_text(f"10.0.0.5 ssh-ed25519 {base64.b64encode(blob).decode()}\n")
    host = Host(name="web1", address="10.0.0.5", known_hosts=str(known))
    key = ServerKey("ssh-ed25519", blob)
    verify(host, key)  # known, from a file of the user's own
    known.chmod(0o666)  # anyone could add the key of a server of theirs
    with pytest.raises(HostKeyError, match=f"known_hosts file {known}: .*writable by others"):
        verify(host, key)


@pytest.mark.timeout(10)
def test_an_inventory_that_is_a_fifo_is_refused_without_waiting(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "hosts.yaml")
    with pytest.raises(InventoryError, match="not a regular file but a FIFO"):
        load_inventory(tmp_path / "hosts.yaml", required=True)
