"""The state the CLI fakes share, their invocation log, and scripted failures.

* state: $FAKE_STATE (JSON, protected by flock on `<state>.lock`); the fake minikube,
  the fake `docker desktop` plugin and the fake Docker engine all read and write it,
  so "Docker Desktop stopped" is true for every one of them at once.
* invocations: $FAKE_LOG (JSON lines): one `start` record before a command does
  anything (a command killed by a deadline is still recorded, with its pid) and one
  `end` record with its exit code and output.
* scripted failures: state["script"] is a list of
  {"tool": "minikube", "argv_has": ["start"], "rc": 80, "stderr": "...", "stdout": "",
   "times": 2, "sleep": 0}: the first entry whose tool matches and whose words all
  appear in argv answers instead of the fake (and `times` counts down; -1 = always).
  `sleep` holds the command first: a hang, for deadline tests.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

STATE = os.environ.get("FAKE_STATE", "/tmp/runbook-fakes/state.json")
LOG = os.environ.get("FAKE_LOG", os.path.join(os.path.dirname(STATE), "invocations.jsonl"))


def defaults(state: dict[str, Any]) -> dict[str, Any]:
    state.setdefault("minikube", {}).setdefault("profiles", {})
    state.setdefault("desktop", {"status": "running"})
    state.setdefault("engine", {})
    state.setdefault("script", [])
    return state


@contextmanager
def locked(write: bool = True) -> Iterator[dict[str, Any]]:
    """The state under an exclusive lock; written back (atomically) when `write`."""
    os.makedirs(os.path.dirname(STATE), exist_ok=True)
    with open(STATE + ".lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            with open(STATE) as handle:
                state = json.load(handle)
        except (OSError, ValueError):
            state = {}
        yield defaults(state)
        if write:
            tmp = f"{STATE}.{os.getpid()}.tmp"
            with open(tmp, "w") as handle:
                json.dump(state, handle, indent=2)
            os.replace(tmp, STATE)


def read() -> dict[str, Any]:
    with locked(write=False) as state:
        return state


def log(record: dict[str, Any]) -> None:
    with open(LOG, "a") as handle:
        handle.write(json.dumps({"ts": time.time(), "pid": os.getpid(), **record}) + "\n")


def take_script(tool: str, argv: list[str]) -> dict[str, Any] | None:
    """The scripted answer for this call, if any (its `times` counted down)."""
    with locked() as state:
        for entry in state["script"]:
            if entry.get("tool") != tool or entry.get("times", 1) == 0:
                continue
            if all(word in argv for word in entry.get("argv_has", [])):
                if entry.get("times", 1) > 0:
                    entry["times"] = entry.get("times", 1) - 1
                return dict(entry)
    return None
