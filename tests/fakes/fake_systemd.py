#!/usr/bin/env python3
"""A fake `systemctl` and `journalctl` (one script, called by either name) for a host
whose systemd cannot run here: a test container has no systemd as PID 1.

Self-contained (it is copied onto the SSH test host and run there, as the SSH user or
as root under sudo). State: `fake-systemd.json` beside the script, JSON:
  {"units": {"NAME": {"port": 1234, "pid": 0, "result": "success", "restarts": 0}},
   "calls": [["systemctl", "restart", "NAME"], ...]}
A unit "runs" a real process: a tiny HTTP server answering /metrics on its port, so a
real Prometheus scrapes it (`up` 1) or fails to (`up` 0).

  systemctl show UNIT --property=A,B   systemctl status UNIT (exit 3 when inactive)
  systemctl start|stop|restart UNIT    systemctl reset-failed UNIT
  journalctl --unit=UNIT ...           journalctl --vacuum-size=N
"""

from __future__ import annotations

import contextlib
import fcntl
import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
STATE = os.path.join(HERE, "fake-systemd.json")


@contextlib.contextmanager
def locked():  # type: ignore[no-untyped-def]
    with open(STATE + ".lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with open(STATE) as handle:
            state = json.load(handle)
        yield state
        tmp = f"{STATE}.{os.getpid()}"
        with open(tmp, "w") as handle:
            json.dump(state, handle, indent=1)
        os.chmod(tmp, 0o666)
        os.replace(tmp, STATE)


def unit_name(name: str) -> str:
    return name[: -len(".service")] if name.endswith(".service") else name


def alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    with contextlib.suppress(OSError), open(f"/proc/{pid}/stat") as stat:
        return stat.read().split()[2] != "Z"
    return True


def serve(port: int) -> None:
    class Metrics(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"fake_service_info 1\n"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    http.server.HTTPServer(("127.0.0.1", port), Metrics).serve_forever()


def start(unit: dict) -> None:  # type: ignore[type-arg]
    if alive(unit["pid"]):
        return
    child = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), "--serve", str(unit["port"])],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    unit["pid"] = child.pid
    for _ in range(100):  # until it listens, as a started unit of Type=notify would
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", unit["port"]), 1):
            return
        time.sleep(0.05)


def stop(unit: dict) -> None:  # type: ignore[type-arg]
    if alive(unit["pid"]):
        os.kill(unit["pid"], signal.SIGTERM)
        for _ in range(100):
            if not alive(unit["pid"]):
                break
            time.sleep(0.02)
    unit["pid"] = 0


def systemctl(args: list[str]) -> int:
    verb, names = args[0], [a for a in args[1:] if not a.startswith("-")]
    with locked() as state:
        state["calls"].append(["systemctl", *args])
        units = state["units"]
        name = unit_name(names[0]) if names else ""
        if name not in units:
            if verb == "show":
                print("LoadState=not-found\nActiveState=inactive\nSubState=dead")
                return 0
            print(f"Unit {name}.service could not be found.", file=sys.stderr)
            return 4 if verb == "status" else 5
        unit = units[name]
        running = alive(unit["pid"])
        if verb == "show":
            props = {
                "LoadState": "loaded", "ActiveState": "active" if running else "failed",
                "SubState": "running" if running else "failed", "Result": unit["result"],
                "NRestarts": str(unit["restarts"]), "ExecMainStatus": "0" if running else "1",
                "ActiveExitTimestamp": "",
            }  # fmt: skip
            wanted = next((a.split("=", 1)[1].split(",") for a in args if "=" in a), props)
            for key in wanted:
                print(f"{key}={props.get(key, '')}")
            return 0
        if verb == "status":
            state_word = "active (running)" if running else "failed (Result: exit-code)"
            print(f"● {name}.service\n     Loaded: loaded\n     Active: {state_word}")
            return 0 if running else 3
        if verb == "reset-failed":
            unit["result"] = "success"
            return 0
        if verb in ("stop", "restart"):
            stop(unit)
            if verb == "stop":
                unit["result"] = "exit-code"  # "as if it had died"
        if verb in ("start", "restart"):
            start(unit)
            unit["restarts"] += verb == "restart"
        return 0


def journalctl(args: list[str]) -> int:
    with locked() as state:
        state["calls"].append(["journalctl", *args])
    if any(a.startswith("--vacuum-size=") for a in args):
        print("Vacuuming done, freed 0B of archived journals from /var/log/journal.")
        return 0
    unit = next((a.split("=", 1)[1] for a in args if a.startswith("--unit=")), "")
    print(f"2026-01-01T00:00:00+0000 host {unit}[1]: Main process exited, status=1/FAILURE")
    return 0


def main() -> int:
    if sys.argv[1:2] == ["--serve"]:
        serve(int(sys.argv[2]))
        return 0
    tool = os.path.basename(sys.argv[0])
    return systemctl(sys.argv[1:]) if tool == "systemctl" else journalctl(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
