"""A fake `docker desktop` CLI plugin (DOCKER_CONFIG/cli-plugins/docker-desktop).

Why a fake: the real plugin drives the Docker Desktop application (a VM), which
cannot run in CI. The real `docker` CLI discovers and runs this plugin exactly as
it runs Docker's own (`docker-cli-plugin-metadata`, then `desktop <command>`), so
the engine's calls go through the genuine CLI plumbing.

Commands: `status [--format json]`, `start`, `stop`, `restart`, `version`. `start`
and `restart` return once the fake engine's socket answers (like the real plugin,
which waits for the engine unless `--detach`); `stop` once the socket is gone. State
and scripted failures/hangs come from fakestate (tool "docker-desktop"): e.g. a
`restart` that hangs forever, as the real one can, or a start that fails N times.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time

import fakestate

METADATA = {
    "SchemaVersion": "0.1.0",
    "Vendor": "Docker Inc. (fake)",
    "Version": "v0.1.8",
    "ShortDescription": "Docker Desktop commands (fake)",
}
READY_TIMEOUT = 15.0


def engine_answers(sock: str) -> bool:
    try:
        with socket.socket(socket.AF_UNIX) as conn:
            conn.settimeout(0.5)
            conn.connect(sock)
            return True
    except OSError:
        return False


def wait_for(sock: str, up: bool) -> bool:
    end = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < end:
        if engine_answers(sock) == up:
            return True
        time.sleep(0.05)
    return False


def settings_memory() -> int | None:
    """The VM memory cap in Docker Desktop's settings file, applied (as by the real one)
    each time the VM starts; $FAKE_DESKTOP_SETTINGS names the file."""
    path = os.environ.get("FAKE_DESKTOP_SETTINGS", "")
    try:
        with open(path) as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    memory = data.get("MemoryMiB", data.get("memoryMiB"))
    return memory if isinstance(memory, int) else None


def set_status(status: str) -> None:
    with fakestate.locked() as state:
        state["desktop"]["status"] = status
        if status == "running":
            state["desktop"]["starts"] = state["desktop"].get("starts", 0) + 1
            memory = settings_memory()
            if memory:
                state["engine"]["mem_total_mib"] = memory


def run(command: str, args: list[str]) -> tuple[int, str, str]:
    sock = os.environ["FAKE_DOCKER_SOCKET"]
    if command == "status":
        status = fakestate.read()["desktop"].get("status", "stopped")
        if "json" in args:
            return 0, json.dumps({"Status": status, "SessionID": "fake-session"}) + "\n", ""
        return 0, f"Name                Value\nStatus              {status}\n", ""
    if command == "version":
        return 0, "Docker Desktop CLI plugin version: v0.1.8 (fake)\n", ""
    if command in ("stop", "restart"):
        set_status("stopped")
        if not wait_for(sock, up=False):
            return 1, "", "docker desktop: the engine did not stop\n"
    if command in ("start", "restart"):
        set_status("running")
        if not wait_for(sock, up=True):
            return 1, "", "docker desktop: timed out waiting for the engine\n"
    if command in ("start", "stop", "restart"):
        return 0, "", ""
    return 1, "", f"docker: unknown desktop command {command!r}\n"


def main() -> int:
    args = sys.argv[1:]
    if args[:1] == ["docker-cli-plugin-metadata"]:
        print(json.dumps(METADATA))
        return 0
    if args[:1] == ["desktop"]:
        args = args[1:]
    fakestate.log({"tool": "docker-desktop", "phase": "start", "argv": args})
    scripted = fakestate.take_script("docker-desktop", args)
    if scripted:
        time.sleep(scripted.get("sleep", 0))
        rc, out, err = scripted.get("rc", 1), scripted.get("stdout", ""), scripted.get("stderr", "")
    else:
        rc, out, err = run(args[0] if args else "help", args[1:])
    fakestate.log(
        {
            "tool": "docker-desktop",
            "phase": "end",
            "argv": args,
            "rc": rc,
            "stdout": out,
            "stderr": err,
        }
    )
    sys.stdout.write(out)
    sys.stderr.write(err)
    return rc


if __name__ == "__main__":
    sys.exit(main())
