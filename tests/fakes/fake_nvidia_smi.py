"""A fake `nvidia-smi` that reports the stand-in model server's GPU ($FAKE_MODEL_SERVER).

Why a fake: there is no GPU in CI. The GPU playbook's shell steps read memory with
the real tool's query interface, reproduced here:

  nvidia-smi --query-gpu=index,memory.used,memory.total --format=csv,noheader,nounits [-i N]
  nvidia-smi --query-compute-apps=pid,process_name,used_memory --format=csv,noheader

(only the fields the playbook asks for, in the order asked, as the real tool prints them).
"""

from __future__ import annotations

import json
import os
import sys
import urllib.request
from typing import Any


def gpu() -> dict[str, Any]:
    with urllib.request.urlopen(os.environ["FAKE_MODEL_SERVER"] + "/_fake/gpu", timeout=5) as r:
        return dict(json.load(r))


def query(argv: list[str], name: str) -> list[str]:
    for arg in argv:
        if arg.startswith(f"--{name}="):
            return arg.split("=", 1)[1].split(",")
    return []


def main() -> int:
    argv = sys.argv[1:]
    state = gpu()
    units = "nounits" not in " ".join(argv)
    fields = query(argv, "query-gpu")
    if fields:
        values = {"index": "0", "memory.used": state["used"], "memory.total": state["total"],
                  "memory.free": state["total"] - state["used"]}  # fmt: skip
        print(", ".join(f"{values[f]}{' MiB' if units and f != 'index' else ''}" for f in fields))
        return 0
    fields = query(argv, "query-compute-apps")
    if fields:
        for app in state["apps"]:
            memory = f"{app['mib']} MiB"
            values = {"pid": app["pid"], "process_name": app["name"], "used_memory": memory}
            print(", ".join(str(values[f]) for f in fields))
        return 0
    print(f"| 0  Fake GPU  | {state['used']}MiB / {state['total']}MiB |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
