"""The host playbooks end to end through the CLI, against the REAL sshd of
tests/sshd_fixtures.py (with a real `sudo`):

* linux/disk-full: a real, small tmpfs is the "mount"; `runbook drill` fills it to 90 %
  (the playbook's own drill.inject), the shipped steps free it, the revert is checked.
  The steps run the real df, du, find and gzip on that tmpfs; `journalctl` and
  `apt-get` are STAND-INS first on the host's PATH (and sudo's secure_path) that record
  their arguments and empty a fake journal and package cache in the test's folder: the
  machine's own journal and cache are never touched. The host's sshd runs in a mount
  namespace of its own with a private /run, where the playbook keeps its list of
  compressed logs. The SLI probe is the real `ssh` client, given `-F` with the test's
  ssh config: OpenSSH reads ~/.ssh/config from the passwd home, not $HOME, which the
  tests isolate.
* linux/service-restart: a REAL Prometheus scrapes the "service" (a small HTTP
  /metrics server), so the SLI is the playbook's own `up` query. systemd cannot run
  here (no systemd as PID 1), so `systemctl` and `journalctl` on the SSH host are a
  FAKE (tests/fakes/fake_systemd.py) that keeps the unit's state in a file and starts
  or stops the real metrics server: the second sshd below puts it first on the
  session's PATH, and a sudoers `secure_path` puts it first under sudo. The SLI timings
  (30 s settle, 15 s interval) are shortened in a copy of the playbook: the steps are
  the shipped ones, byte for byte.

* postgres/replication-lag: a REAL PostgreSQL primary and streaming replica (initdb +
  pg_basebackup -R); the drill pauses replay on the replica, the test answers the
  manual steps at a terminal and does what they say on the replica. postgres_exporter
  is not installed here, so a stand-in pushes the replica's real replay delay to the
  real Pushgateway/Prometheus (tests/prom_fixtures.py) under the exporter's metric name.

All need root (tmpfs mount, mount namespace, sudoers rule for the SSH test user,
`runuser -u postgres`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from components import free_port, require_binary
from sli_helpers import events, run_cli, step_statuses
from sshd_fixtures import SshServer, sibling_sshd, sudoers_rule
from test_playbooks_e2e import REPO, outcome
from tree import TESTS

DISK_FULL = REPO / "playbooks/linux/disk-full.yaml"
SERVICE_RESTART = REPO / "playbooks/linux/service-restart.yaml"
FAKES = TESTS / "fakes"


def _need_root(sshd: SshServer) -> None:
    require_binary("sudo", "sudo")
    if os.geteuid() != 0 or sshd.user == "root":
        pytest.skip("mounting a tmpfs and adding a sudoers rule for the test user need root")


STAND_IN_JOURNALCTL = """\
#!/bin/sh
# STAND-IN journalctl: records its arguments; --vacuum-size deletes the archived files
# of the test's fake journal, never the machine's.
printf '%s\\n' "journalctl $*" >> {calls}
case "$*" in
  *--vacuum-size=*) rm -f -- {journal}/*.journal~; echo "Vacuuming done: {journal}" ;;
esac
"""
STAND_IN_APT_GET = """\
#!/bin/sh
# STAND-IN apt-get: records its arguments; `clean` empties the test's fake package cache.
printf '%s\\n' "apt-get $*" >> {calls}
if [ "$1" = clean ]; then rm -f -- {cache}/*.deb; fi
"""


@dataclass
class HostTools:
    """The stand-ins' folder (first on the host's PATH and sudo's secure_path), the
    log of their calls, and the fake journal and package cache they clean."""

    bin_dir: Path
    calls: Path
    journal: Path
    cache: Path

    def called(self) -> list[str]:
        return self.calls.read_text().splitlines() if self.calls.exists() else []


@pytest.fixture
def host_tools(sshd: SshServer, remote_dir: Path) -> Iterator[HostTools]:
    """The stand-ins, and a sudoers rule that lets the SSH test user run, as root without
    a password, what the playbook runs under sudo (and nothing like `whoami`, which the
    sudo tests expect to be refused), with the stand-ins first on sudo's PATH."""
    _need_root(sshd)
    tools = HostTools(remote_dir / "fakebin", remote_dir / "fakebin" / "calls",
                      remote_dir / "journal", remote_dir / "apt-cache")  # fmt: skip
    for folder in (tools.bin_dir, tools.journal, tools.cache):
        folder.mkdir()
    for name, text in (("journalctl", STAND_IN_JOURNALCTL), ("apt-get", STAND_IN_APT_GET)):
        script = tools.bin_dir / name
        script.write_text(text.format(calls=tools.calls, journal=tools.journal, cache=tools.cache))
        script.chmod(0o755)
    secure_path = f"{tools.bin_dir}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    commands = ["/usr/bin/sh", "/bin/sh", "/usr/bin/find", f"{tools.bin_dir}/journalctl"]
    text = (f'Defaults:{sshd.user} secure_path="{secure_path}"\n'
            f"{sshd.user} ALL=(root) NOPASSWD: {', '.join(commands)}\n")  # fmt: skip
    with sudoers_rule("runbook-e2e-hosts", text):
        yield tools


def _ssh_wrapper(sshd: SshServer, bin_dir: Path, name: str) -> None:
    """`ssh NAME` reaches the test sshd: an ssh config, and a `ssh` first on PATH that
    hands it to the real client with -F."""
    bin_dir.mkdir(exist_ok=True)
    config = bin_dir / "ssh_config"
    config.write_text(
        f"Host {name}\n  HostName {sshd.address}\n  Port {sshd.port}\n  User {sshd.user}\n"
        f"  IdentityFile {sshd.client_key}\n  IdentitiesOnly yes\n"
        f"  UserKnownHostsFile {sshd.known_hosts}\n  StrictHostKeyChecking yes\n"
    )
    ssh = bin_dir / "ssh"
    real = require_binary("ssh", "openssh-client")
    ssh.write_text(f'#!/bin/sh\nexec {real} -F {config} "$@"\n')
    ssh.chmod(0o755)


@pytest.fixture
def small_mount(remote_dir: Path) -> Iterator[Path]:
    """A 16 MiB tmpfs the SSH user owns: a mount the drill can fill to 90 % at once."""
    mount = remote_dir / "mnt"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m,mode=0755", "tmpfs", str(mount)],
        capture_output=True, text=True,
    )  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False)


@pytest.fixture
def disk_host(
    sshd: SshServer, host_tools: HostTools, small_mount: Path
) -> Iterator[tuple[SshServer, int]]:
    """A second sshd (same keys and user as the session's) in a mount namespace of its
    own, where /run is a private tmpfs (the playbook writes its list of compressed logs
    there) and the stand-ins come first on PATH; started after the small mount, which it
    sees too. Yields (server, the sshd's pid)."""
    unshare = require_binary("unshare", "util-linux")
    setup = ("mount -t tmpfs -o size=8m,mode=0755 runbook-host-run /run && "
             'mkdir -m 0755 /run/sshd && exec "$@"')  # fmt: skip
    launcher = [unshare, "--mount", "--propagation", "private", "--", "/bin/sh", "-c", setup,
                "sh"]  # fmt: skip
    path = f"SetEnv PATH={host_tools.bin_dir}:/usr/local/bin:/usr/bin:/bin\n"
    # the namespace, and its /run, go with the sshd, its last process
    with sibling_sshd(sshd, path, launcher=launcher) as server:
        yield server, server.process.pid


def _used_percent(mount: Path) -> int:
    usage = shutil.disk_usage(mount)
    return round(usage.used * 100 / usage.total)


def test_disk_full_drill_fills_the_mount_and_the_playbook_frees_it(
    disk_host: tuple[SshServer, int],
    host_tools: HostTools,
    small_mount: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server, sshd_pid = disk_host
    _ssh_wrapper(server, tmp_path / "bin", "box")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    inventory = server.inventory(tmp_path / "inventory.yaml")
    (host_tools.journal / "system@0001.journal~").write_text("an archived journal\n")
    (host_tools.journal / "system.journal").write_text("the active journal\n")
    (host_tools.cache / "old_1.0_amd64.deb").write_text("a cached package\n")
    logs = small_mount / "log"
    logs.mkdir()
    (logs / "app.log").write_text("today\n")
    rotated = logs / "app.log.1"
    rotated.write_text("yesterday's lines\n" * 1000)
    old = time.time() - 3 * 86400
    os.utime(rotated, (old, old))  # three days old: compressed, but not old enough to delete
    assert _used_percent(small_mount) < 85

    began = time.monotonic()
    done = run_cli(
        "drill", str(DISK_FULL), "--yes", "-o", "json", "--inventory", str(inventory),
        "-i", "host=box", "-i", f"mount={small_mount}", "-i", f"log_dir={logs}",
        timeout=180,
    )  # fmt: skip
    took = time.monotonic() - began
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["verdict"] == "passed", report
    assert report["detected_after"] is not None and report["recovered_after"] is not None
    parts = {p["name"]: p for p in report["parts"]}
    assert set(parts) >= {"inject", "remediate", "revert"}, parts
    remediation = parts["remediate"]["run_id"]
    assert outcome(remediation) == "recovered"
    statuses = step_statuses(remediation)
    assert statuses["delete_old_rotated_logs"] == "succeeded", statuses
    assert not (logs / "runbook-drill.log.1.gz").exists()  # freed by the playbook, not the revert
    assert _used_percent(small_mount) < 85
    # Least destructive first: the rotated log was compressed (and is kept), today's is untouched.
    assert not rotated.exists() and (logs / "app.log.1.gz").exists()
    assert (logs / "app.log").read_text() == "today\n"
    # The stand-ins ran under sudo, on the test's fake journal and cache only.
    assert host_tools.called() == ["journalctl --vacuum-size=500M", "apt-get clean"]
    assert [p.name for p in host_tools.journal.iterdir()] == ["system.journal"]
    assert list(host_tools.cache.iterdir()) == []
    # The list of compressed logs is in the host's private /run, not the machine's.
    manifest = Path(f"/proc/{sshd_pid}/root/run/runbook-disk-full.compressed")
    assert manifest.read_text() == f"{rotated}\n"
    print(f"disk-full drill: {took:.1f} s")


SCRAPE_SERVICE = """\
global:
  scrape_interval: 500ms
  scrape_timeout: 400ms
scrape_configs:
  - job_name: web
    static_configs:
      - targets: ['127.0.0.1:{port}']
        labels: {{instance: box}}
"""


@pytest.fixture
def fake_systemd(sshd: SshServer, remote_dir: Path) -> Iterator[Path]:
    """The fake `systemctl`/`journalctl` in a folder the SSH user can read, with one
    unit `web` (stopped) whose process serves /metrics on a free port."""
    _need_root(sshd)
    bin_dir = remote_dir / "fakebin"
    bin_dir.mkdir()
    for name in ("systemctl", "journalctl"):
        shutil.copy(FAKES / "fake_systemd.py", bin_dir / name)
        (bin_dir / name).chmod(0o755)
    state = {"units": {"web": {"port": free_port(), "pid": 0, "result": "success",
                               "restarts": 0}}, "calls": []}  # fmt: skip
    (bin_dir / "fake-systemd.json").write_text(json.dumps(state))
    (bin_dir / "fake-systemd.json.lock").touch(mode=0o666)
    (bin_dir / "fake-systemd.json.lock").chmod(0o666)
    shutil.chown(bin_dir, sshd.user, sshd.user)  # the fake writes its state as either user
    secure_path = f"{bin_dir}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    text = (
        f'Defaults:{sshd.user} secure_path="{secure_path}"\n'
        f"{sshd.user} ALL=(root) NOPASSWD: {bin_dir}/systemctl, {bin_dir}/journalctl\n"
    )
    try:
        with sudoers_rule("runbook-e2e-systemd", text):
            yield bin_dir
    finally:
        subprocess.run([bin_dir / "systemctl", "stop", "web"], capture_output=True, check=False)


def fake_calls(bin_dir: Path) -> list[list[str]]:
    return list(json.loads((bin_dir / "fake-systemd.json").read_text())["calls"])


@pytest.fixture
def path_sshd(sshd: SshServer, fake_systemd: Path) -> Iterator[SshServer]:
    """A second sshd (same keys and user as the session's) whose sessions get the fake
    systemd first on PATH (`SetEnv`), as a real host has systemctl on its PATH."""
    with sibling_sshd(sshd, f"SetEnv PATH={fake_systemd}:/usr/local/bin:/usr/bin:/bin\n") as server:
        yield server


@pytest.fixture
def web_prometheus(fake_systemd: Path, tmp_path: Path) -> Iterator[str]:
    """A real Prometheus of this test's own that scrapes the fake unit's /metrics."""
    from prom_fixtures import PromStack, _start, _wait_ready, stop

    prometheus = require_binary("prometheus", "prometheus")
    port = json.loads((fake_systemd / "fake-systemd.json").read_text())["units"]["web"]["port"]
    (tmp_path / "prometheus.yml").write_text(SCRAPE_SERVICE.format(port=port))
    prom_port = free_port()
    process = _start(
        [prometheus, f"--config.file={tmp_path / 'prometheus.yml'}",
         f"--storage.tsdb.path={tmp_path / 'prom-data'}",
         f"--web.listen-address=127.0.0.1:{prom_port}"],
        tmp_path / "prom.log",
    )  # fmt: skip
    url = f"http://127.0.0.1:{prom_port}"
    try:
        _wait_ready(f"{url}/-/ready")
        subprocess.run([fake_systemd / "systemctl", "start", "web"], check=True)
        PromStack(url, "", {}).wait_for('up{job="web", instance="box"}', 1)
        yield url
    finally:
        stop(process)


def test_service_restart_drill_stops_the_unit_and_the_playbook_restarts_it(
    path_sshd: SshServer, fake_systemd: Path, web_prometheus: str, tmp_path: Path
) -> None:
    text = SERVICE_RESTART.read_text()
    fast = text.replace("  settle: 30s\n", "  settle: 1s\n", 1).replace(
        "  interval: 15s\n", "  interval: 1s\n", 1
    )
    assert fast.count("settle: 1s") == 1 and fast.count("interval: 1s") == 1
    playbook = tmp_path / "service-restart.yaml"
    playbook.write_text(fast)
    inventory = path_sshd.inventory(tmp_path / "inventory.yaml")

    began = time.monotonic()
    done = run_cli(
        "drill", str(playbook), "--yes", "-o", "json", "--inventory", str(inventory),
        "-i", "host=box", "-i", "service=web", "-i", "job=web",
        "-i", f"prometheus_url={web_prometheus}", timeout=180,
    )  # fmt: skip
    took = time.monotonic() - began
    report = json.loads(done.stdout)
    parts = {p["name"]: p for p in report["parts"]}
    remediation = parts["remediate"]["run_id"]
    results = [e["data"] for e in events(remediation) if e["kind"] == "step_result"]
    assert done.returncode == 0 and report["verdict"] == "passed", json.dumps(results)[:3000]
    assert outcome(remediation) == "recovered"
    statuses = step_statuses(remediation)
    assert statuses["restart"] == "succeeded" and statuses["unit_state"] == "succeeded", statuses
    calls = fake_calls(fake_systemd)
    stop_at = calls.index(["systemctl", "stop", "web"])  # the inject
    after = calls[stop_at + 1 :]
    assert ["systemctl", "reset-failed", "web"] in after
    assert ["systemctl", "restart", "web"] in after
    assert any(c[0] == "journalctl" and "--unit=web" in c for c in after)
    assert after.index(["systemctl", "reset-failed", "web"]) < after.index(
        ["systemctl", "restart", "web"]
    )
    status = subprocess.run([fake_systemd / "systemctl", "status", "web"], capture_output=True)
    assert status.returncode == 0  # running again (restarted, and the revert's start is a no-op)
    print(f"service-restart drill: {took:.1f} s")


POSTGRES_LAG = REPO / "playbooks/postgres/replication-lag.yaml"
LAG_SQL = "SELECT COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0)"


class PgPair:
    """A real PostgreSQL primary and its streaming replica (pg_basebackup -R), on Unix
    sockets in one folder, run as the `postgres` user."""

    def __init__(self, bin_dir: Path, root: Path) -> None:
        self.bin, self.root = bin_dir, root
        self.ports = {"primary": free_port(), "replica": free_port()}

    def as_postgres(self, *argv: str) -> str:
        done = subprocess.run(
            ["runuser", "-u", "postgres", "--", *argv], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, f"{argv}: {done.stdout}{done.stderr}"
        return done.stdout

    def sql(self, node: str, query: str) -> str:
        port = str(self.ports[node])
        return self.as_postgres(
            str(self.bin / "psql"), "-h", str(self.root), "-p", port, "-U", "postgres", "-d",
            "postgres", "-Atqc", query,
        ).strip()  # fmt: skip

    def pg_ctl(self, node: str, *args: str) -> None:
        opts = f"-p {self.ports[node]} -k {self.root} -c listen_addresses=''"
        self.as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.root / node), "-o", opts,
                         "-l", str(self.root / f"{node}.log"), *args)  # fmt: skip

    def start(self) -> None:
        self.as_postgres(str(self.bin / "initdb"), "-D", str(self.root / "primary"),
                         "-U", "postgres", "--auth=trust", "--no-sync")  # fmt: skip
        self.pg_ctl("primary", "-w", "start")
        self.as_postgres(
            str(self.bin / "pg_basebackup"), "-h", str(self.root), "-p",
            str(self.ports["primary"]), "-U", "postgres", "-D", str(self.root / "replica"),
            "-X", "stream", "-R", "--no-sync",
        )  # fmt: skip
        self.pg_ctl("replica", "-w", "start")
        self.sql("primary", "CREATE TABLE ticks (at timestamptz DEFAULT now())")

    def stop(self) -> None:
        for node in ("replica", "primary"):
            if (self.root / node / "postmaster.pid").exists():
                self.pg_ctl(node, "-m", "immediate", "stop")


@pytest.fixture
def pg_pair() -> Iterator[PgPair]:
    import glob
    import tempfile

    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    bin_dir = Path(found[-1]).parent if found else Path(require_binary("pg_ctl", "postgresql"))
    if os.geteuid() != 0:
        pytest.skip("running PostgreSQL as the postgres user needs root")
    root = Path(tempfile.mkdtemp(prefix="runbook-pg-"))
    shutil.chown(root, "postgres", "postgres")
    pair = PgPair(bin_dir, root)
    try:
        pair.start()
        yield pair
    finally:
        pair.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def lag_exporter(pg_pair: PgPair, prom_stack: Any) -> Iterator[str]:
    """The primary keeps writing (as production does), and a stand-in for
    postgres_exporter (not installed here) pushes the replica's REAL replay delay as
    `pg_replication_lag_seconds` to the Pushgateway, which the real Prometheus scrapes.
    Yields the replica's name (its `instance` label)."""
    import threading
    import uuid

    replica = f"db-{uuid.uuid4().hex[:8]}"
    halt = threading.Event()

    def write() -> None:
        while not halt.wait(0.2):
            pg_pair.sql("primary", "INSERT INTO ticks DEFAULT VALUES")

    def export() -> None:
        while not halt.wait(0.25):
            lag = float(pg_pair.sql("replica", LAG_SQL))
            prom_stack.push(f"postgres/instance/{replica}", "pg_replication_lag_seconds", lag)

    threads = [threading.Thread(target=write), threading.Thread(target=export)]
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + 20
        query = f'pg_replication_lag_seconds{{instance="{replica}"}}'
        while not prom_stack.query(query)["data"]["result"]:
            assert time.monotonic() < deadline, "Prometheus never scraped the lag"
            time.sleep(0.2)
        yield replica
    finally:
        halt.set()
        for thread in threads:
            thread.join(timeout=10)


def test_postgres_replication_lag_drill_pauses_replay_and_the_steps_resume_it(
    pg_pair: PgPair, lag_exporter: str, prom_stack: Any, tmp_path: Path
) -> None:
    """A level-1 playbook: every step is manual, so the test is the operator at a
    terminal (pexpect) and does on the REAL replica what each step says. The copy of the
    playbook only shortens the SLI (lag below 2 s instead of 30 s, 1 s settle and
    interval): the steps are the shipped ones."""
    from run_fixtures import finish_terminal, spawn_terminal

    text = POSTGRES_LAG.read_text()
    fast = (
        text.replace("  healthy: {below: 30}\n", "  healthy: {below: 2}\n", 1)
        .replace("  settle: 1m\n", "  settle: 1s\n", 1)
        .replace("  interval: 1m\n", "  interval: 1s\n", 1)
    )
    assert fast.count("below: 2}") == 1 and fast.count("settle: 1s") == 1
    assert fast.count("  interval: 1s\n") == 1
    playbook = tmp_path / "replication-lag.yaml"
    playbook.write_text(fast)
    actions = {  # step -> what the operator runs on the replica
        "pause_replay": "SELECT pg_wal_replay_pause()",
        "resume_paused_replay": "SELECT pg_wal_replay_resume()",
        "resume_replay_after_drill": "SELECT pg_wal_replay_resume()",
    }
    began = time.monotonic()
    child = spawn_terminal(
        "drill", str(playbook), "--yes", "-o", "json", "-i", "primary=db-1",
        "-i", f"replica={lag_exporter}", "-i", f"prometheus_url={prom_stack.prometheus_url}",
        timeout=30,
    )  # fmt: skip
    import pexpect

    data = yaml.safe_load(fast)
    steps = [*data["steps"], *data["drill"].get("inject", []), *data["drill"].get("revert", [])]
    by_title = {step.get("title", step["id"]): step["id"] for step in steps}
    seen, output = [], []
    while child.expect([r"── (.+?) ──", pexpect.EOF]) == 0:
        output.append(child.before)
        step = by_title.get(child.match.group(1), child.match.group(1))  # asked by title
        seen.append(step)
        child.expect(r"result \(done, failed, skipped\)")
        if step in actions:
            pg_pair.sql("replica", actions[step])
        if step == "pause_replay":
            assert pg_pair.sql("replica", "SELECT pg_is_wal_replay_paused()") == "t"
        child.sendline("done")
        child.expect(r"note \(optional\)")
        child.sendline("")
    output.append(child.before)
    code = finish_terminal(child)
    took = time.monotonic() - began
    tail = "".join(output).replace("\r\n", "\n")
    report = json.loads(tail[tail.index("\n{\n") :])
    assert code == 0 and report["verdict"] == "passed", (seen, report)
    assert seen == [
        "pause_replay",
        "measure_lag",
        "resume_paused_replay",
        "resume_replay_after_drill",
    ]
    remediation = next(p["run_id"] for p in report["parts"] if p["name"] == "remediate")
    assert outcome(remediation) == "recovered"
    assert step_statuses(remediation)["rebuild_replica"] == "skipped"  # the SLI recovered
    assert pg_pair.sql("replica", "SELECT pg_is_wal_replay_paused()") == "f"
    print(f"replication-lag drill: {took:.1f} s")
