"""SSH steps side by side: `runbook run` against `ansible-playbook` over SSH to the same
sshd, in one run. Also the in-process costs of the ssh step type (connect, one command
over a reused transport, bulk output).

    python bench/ssh_bench.py            # repeat 3: about 3-4 minutes on 2 cores
    python bench/ssh_bench.py --quick    # repeat 1, no ansible `command` module

Starts its own sshd on a free loopback port (root: logs in the clean user `runbook-ssh`,
created if missing, as the tests do; otherwise the current user). Needs openssh-server;
ansible-core is optional (`pip install ansible-core`): without it, its rows say so.
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
USER = "runbook-ssh"
SSHD_CONFIG = """\
Port {port}
ListenAddress 127.0.0.1
HostKey {state}/host_key
PidFile none
AuthorizedKeysFile {keys}
AllowUsers {user}
PasswordAuthentication no
KbdInteractiveAuthentication no
StrictModes {strict}
UsePAM no
UseDNS no
PrintMotd no
MaxStartups 100:30:200
MaxSessions 100
LogLevel VERBOSE
Subsystem sftp internal-sftp
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _login(state: Path) -> tuple[str, Path, str]:
    """(user, authorized_keys path, StrictModes) — the clean user when root."""
    if os.geteuid() != 0:
        return pwd.getpwuid(os.getuid()).pw_name, state / "authorized_keys", "no"
    try:
        pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/sh", USER], check=True)
    subprocess.run(["usermod", "-p", "*", USER], check=True)
    ssh_dir = Path(pwd.getpwnam(USER).pw_dir) / ".ssh"
    ssh_dir.mkdir(mode=0o700, exist_ok=True)
    shutil.chown(ssh_dir, USER, USER)
    return USER, ssh_dir / f"runbook-bench-{os.getpid()}.keys", "yes"


def start_sshd(state: Path) -> dict[str, Any]:
    """sshd on a free port; what the clients need to reach it."""
    for name in ("host_key", "client_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(state / name)],
                       check=True)  # fmt: skip
    user, keys, strict = _login(state)
    keys.write_text((state / "client_key.pub").read_text())
    keys.chmod(0o600)
    if os.geteuid() == 0:
        shutil.chown(keys, user, user)
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    port = _free_port()
    config = state / "sshd_config"
    config.write_text(SSHD_CONFIG.format(port=port, state=state, keys=keys, user=user,
                                         strict=strict))  # fmt: skip
    sshd = shutil.which("sshd") or "/usr/sbin/sshd"
    process = subprocess.Popen([sshd, "-D", "-f", str(config), "-E", str(state / "sshd.log")])
    host_key = " ".join((state / "host_key.pub").read_text().split()[:2])
    (state / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_key}\n")
    _wait_banner(port)
    return {"port": port, "user": user, "key": str(state / "client_key"), "keys": keys,
            "known_hosts": str(state / "known_hosts"), "process": process}  # fmt: skip


def _wait_banner(port: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), 1) as sock:
                if sock.recv(8).startswith(b"SSH-"):
                    return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("sshd did not start")


def write_inputs(work: Path, server: dict[str, Any], n: int) -> dict[str, Path]:
    """The runbook playbook + inventory and the ansible playbooks + inventory for n steps."""
    files = {name: work / f"{name}-{n}.yaml" for name in ("runbook", "raw", "command")}
    steps = "".join(f"  - {{id: s{i}, readonly: true, ssh: {{host: box, run: [\"true\"]}}}}\n"
                    for i in range(n))  # fmt: skip
    files["runbook"].write_text(
        "apiVersion: runbook/v1\nkind: Playbook\nmetadata: {name: ssh-bench, version: 1.0.0, "
        f"maturity: 2, owner: bench}}\nsteps:\n{steps}"
    )
    for module in ("raw", "command"):
        tasks = "".join(f'    - {module}: "true"\n' for _ in range(n))
        files[module].write_text(f"- hosts: box\n  gather_facts: false\n  tasks:\n{tasks}")
    (work / "inventory.yaml").write_text(
        f"hosts:\n  box: {{address: 127.0.0.1, port: {server['port']}, user: {server['user']}, "
        f"identity_file: {server['key']}, known_hosts: {server['known_hosts']}}}\n"
    )
    (work / "hosts.ini").write_text(
        f"box ansible_host=127.0.0.1 ansible_port={server['port']} ansible_user={server['user']} "
        f"ansible_ssh_private_key_file={server['key']} ansible_python_interpreter=/usr/bin/python3 "
        f"ansible_ssh_common_args='-o UserKnownHostsFile={server['known_hosts']} "
        "-o StrictHostKeyChecking=yes'\n"
    )
    return files


def timed(argv: list[str], env: dict[str, str], success: str) -> float:
    began = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=900,
                          stdin=subprocess.DEVNULL, check=False)  # fmt: skip
    took = time.perf_counter() - began
    if done.returncode != 0 or success not in done.stdout:
        raise SystemExit(f"{' '.join(argv)} failed:\n{(done.stdout + done.stderr)[-2000:]}")
    return took


def commands(work: Path, files: dict[str, Path]) -> dict[str, tuple[list[str], str] | None]:
    ansible = shutil.which("ansible-playbook")
    inventory = str(work / "hosts.ini")
    runbook = [sys.executable, "-m", "engine", "run", "-q", str(files["runbook"]),
               "--inventory", str(work / "inventory.yaml")]  # fmt: skip
    return {
        "runbook run (ssh step)": (runbook, "outcome: completed"),
        "ansible-playbook raw": ([ansible, "-i", inventory, str(files["raw"])], "failed=0")
        if ansible
        else None,
        "ansible-playbook command": ([ansible, "-i", inventory, str(files["command"])], "failed=0")
        if ansible
        else None,
    }


def measure(work: Path, server: dict[str, Any], sizes: tuple[int, int], repeat: int,
            with_command: bool) -> dict[str, dict[int, list[float]]]:  # fmt: skip
    """Every tool at both sizes, round after round (drift falls on all alike)."""
    env = {**os.environ, "HOME": str(work), "RUNBOOK_HOME": str(work / "rb"), "NO_COLOR": "1",
           "PYTHONPATH": str(REPO), "ANSIBLE_PIPELINING": "1", "ANSIBLE_NOCOLOR": "1"}  # fmt: skip
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    per_size = {n: commands(work, write_inputs(work, server, n)) for n in sizes}
    samples: dict[str, dict[int, list[float]]] = {}
    for round_ in range(repeat + 1):  # round 0 warms caches and is not kept
        for n in sizes:
            for tool, spec in per_size[n].items():
                if spec is None or ("command" in tool and not with_command):
                    continue
                took = timed(spec[0], env, spec[1])
                if round_:
                    samples.setdefault(tool, {}).setdefault(n, []).append(took)
    return samples


def in_process(server: dict[str, Any], work: Path) -> dict[str, float]:
    """Connect time, one command over the reused transport, 50 MB of output."""
    sys.path.insert(0, str(REPO))
    began = time.perf_counter()
    import paramiko  # noqa: F401  (its import cost is part of the first ssh step)

    from engine.backends.ssh.connect import open_transport
    from engine.backends.ssh.inventory import load_inventory

    imported = time.perf_counter() - began
    host = load_inventory(work / "inventory.yaml", True).resolve("box")[0]
    connects = []
    for _ in range(5):
        began = time.perf_counter()
        open_transport(host).close()
        connects.append(time.perf_counter() - began)
    transport = open_transport(host)
    per_command = statistics.median(_command(transport, ("true",)) for _ in range(50))
    bulk = _command(transport, ("sh", "-c", "head -c 50000000 /dev/zero | tr '\\0' x"))
    transport.close()
    return {
        "paramiko import s": imported,
        "connect+auth s (median of 5)": statistics.median(connects),
        "one command over reused transport s (median of 50)": per_command,
        "50 MB stdout s": bulk,
        "50 MB stdout MB/s": 50 / bulk,
    }


def _command(transport: Any, argv: tuple[str, ...]) -> float:
    from engine.backends.ssh.command import RemoteCommand, run_remote

    began = time.perf_counter()
    outcome = run_remote(transport, RemoteCommand(argv), timeout=120,
                         on_output=lambda line: None, cancel=threading.Event(),
                         cap=65536)  # fmt: skip
    assert outcome.ending == "exited", outcome
    return time.perf_counter() - began


def report(samples: dict[str, dict[int, list[float]]], sizes: tuple[int, int],
           micro: dict[str, float]) -> str:  # fmt: skip
    n1, n2 = sizes
    med = {tool: {n: statistics.median(v) for n, v in by.items()} for tool, by in samples.items()}
    lines = [f"| tool | {n1} steps | {n2} steps | per step | fixed |", "|---|---|---|---|---|"]
    for tool, t in med.items():
        per = (t[n2] - t[n1]) / (n2 - n1)
        lines.append(f"| {tool} | {t[n1]:.2f} s | {t[n2]:.2f} s | {per * 1000:.1f} ms | "
                     f"{t[n1] - n1 * per:.2f} s |")  # fmt: skip
    ours = med.get("runbook run (ssh step)", {}).get(n2)
    for tool in ("ansible-playbook raw", "ansible-playbook command"):
        if ours and tool in med:
            lines.append(f"\n**{n2} steps, runbook / {tool}: {ours / med[tool][n2]:.2f}**")
    lines.append("\n| in-process | value |\n|---|---|")
    lines += [f"| {name} | {value:.4f} |" for name, value in micro.items()]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeat", type=int, default=None)
    parser.add_argument("--n1", type=int, default=10)
    parser.add_argument("--n2", type=int, default=100)
    args = parser.parse_args()
    repeat = args.repeat or (1 if args.quick else 3)
    with tempfile.TemporaryDirectory(prefix="ssh-bench-") as tmp:
        work = Path(tmp)
        work.chmod(0o755)
        server = start_sshd(work)
        try:
            samples = measure(work, server, (args.n1, args.n2), repeat, not args.quick)
            micro = in_process(server, work)
        finally:
            server["process"].terminate()
            server["process"].wait(timeout=10)
            Path(server["keys"]).unlink(missing_ok=True)
    text = report(samples, (args.n1, args.n2), micro)
    print(text)
    out = REPO / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "ssh-latest.md").write_text(text + "\n")
    (out / "ssh-latest.json").write_text(json.dumps({"samples": samples, "micro": micro}, indent=1))


if __name__ == "__main__":
    main()
