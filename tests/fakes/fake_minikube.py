"""A fake `minikube` CLI, installed on PATH by the fixtures.

Why a fake: real minikube needs a VM or a container runtime with several GB of
images and minutes per start; none of that runs in CI. What the engine relies on is
minikube's *interface*, and that is what this reproduces, from minikube's source:

* `status -o json`: the JSON object, and the exit code built bit by bit exactly as
  minikube's `exitCode()` does (1 host, 2 kubelet/apiserver, 4 kubeconfig; 7 when
  stopped); 85 (ExGuestNotFound) when the profile does not exist;
* `profile list -o json` with each profile's Memory/CPUs/Driver/KubernetesVersion;
* `start`: a new profile takes --memory/--cpus; an existing one keeps its own and
  warns, as minikube does; the docker driver fails with PROVIDER_DOCKER_NOT_RUNNING
  (63) when Docker Desktop is stopped; a stale profile (its machine gone) fails with
  GUEST_PROVISION (80); more memory than the engine has fails (23);
* `stop`, `delete`, `addons list|enable|disable`, `ssh -- CMD` (a few commands have
  their effect: stopping the kubelet, killing the API server), `update-context`, `logs`.

Every call is logged (fakestate.log) and may be scripted to fail or hang.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

import fakestate

VALUE_FLAGS = {"-p", "--profile", "-o", "--output", "-n", "--length", "--node"}
KNOWN_ADDONS = ("dashboard", "default-storageclass", "ingress", "metrics-server", "registry")
Answer = tuple[int, str, str]


def flag(argv: list[str], *names: str) -> str | None:
    for i, arg in enumerate(argv):
        for name in names:
            if arg == name and i + 1 < len(argv):
                return argv[i + 1]
            if arg.startswith(name + "="):
                return arg.split("=", 1)[1]
    return None


def words(argv: list[str]) -> list[str]:
    """Positional words before `--` (flags and their values left out)."""
    found, skip = [], False
    for arg in argv:
        if arg == "--":
            break
        if skip:
            skip = False
        elif arg.startswith("-"):
            skip = arg in VALUE_FLAGS
        else:
            found.append(arg)
    return found


def components(p: dict[str, Any]) -> dict[str, str]:
    if p.get("machine_missing"):
        return dict.fromkeys(("Host", "Kubelet", "APIServer", "Kubeconfig"), "Nonexistent")
    if p["status"] == "Stopped":
        return dict.fromkeys(("Host", "Kubelet", "APIServer", "Kubeconfig"), "Stopped")
    if p["status"] == "Paused":
        return {
            "Host": "Running",
            "Kubelet": "Stopped",
            "APIServer": "Paused",
            "Kubeconfig": "Configured",
        }
    kubelet = p.get("kubelet", "Running")
    apiserver = p.get("apiserver", "Running")
    return {
        "Host": "Running",
        "Kubelet": kubelet,
        "APIServer": apiserver,
        "Kubeconfig": p.get("kubeconfig", "Configured"),
    }


def exit_code(c: dict[str, str]) -> int:
    """minikube's exitCode(): the same three bits."""
    code = 0
    if c["Host"] != "Running":
        code |= 1
    if c["APIServer"] != "Running" or c["Kubelet"] != "Running":
        code |= 2
    if c["Kubeconfig"] != "Configured":
        code |= 4
    return code


NOT_FOUND = (
    '🤷  Profile "{name}" not found. Run "minikube profile list" to view all profiles.\n'
    '👉  To start a cluster, run: "minikube start -p {name}"\n'
)


def not_found(name: str) -> Answer:
    return 85, NOT_FOUND.format(name=name), ""


def status(state: dict[str, Any], name: str, argv: list[str]) -> Answer:
    p = state["minikube"]["profiles"].get(name)
    if p is None:
        return not_found(name)
    c = components(p)
    if flag(argv, "-o", "--output") == "json":
        document = json.dumps({"Name": name, **c, "Worker": False}, separators=(",", ":"))
        return exit_code(c), document, ""
    text = "".join(f"{k.lower()}: {v}\n" for k, v in c.items())
    return exit_code(c), f"{name}\ntype: Control Plane\n{text}\n", ""


def mib(text: str) -> int:
    text = text.lower().rstrip("b")
    factor = {"g": 1024, "m": 1}.get(text[-1:], 1)
    return int(float(text.rstrip("gm")) * factor)


NO_DOCKER = (
    "❌  Exiting due to PROVIDER_DOCKER_NOT_RUNNING: deadline exceeded running "
    '"docker version": signal: killed\n💡  Suggestion: Start Docker Desktop\n'
)
NO_MACHINE = (
    "❌  Exiting due to GUEST_PROVISION: error provisioning guest: Failed to start "
    'host: driver start: machine "{name}" does not exist\n'
)
TOO_BIG = (
    "❌  Exiting due to RSRC_OVER_ALLOC_MEM: Requested memory allocation "
    "{wanted}MB is more than your system limit {limit}MB.\n"
)
KEPT_MEMORY = (
    "❗  You cannot change the memory size for an existing minikube cluster. "
    "Please first delete the cluster.\n"
)


def start_problem(
    state: dict[str, Any], name: str, p: dict[str, Any] | None, argv: list[str]
) -> Answer | None:
    driver = flag(argv, "--driver") or (p or {}).get("driver", "docker")
    if driver == "docker" and state["desktop"].get("status") != "running":
        return 63, "", NO_DOCKER
    if p and p.get("machine_missing"):
        return 80, "", NO_MACHINE.format(name=name)
    memory = flag(argv, "--memory")
    limit = state["engine"].get("mem_total_mib", 8192)
    if memory and p is None and mib(memory) > limit:
        return 23, "", TOO_BIG.format(wanted=mib(memory), limit=limit)
    return None


def new_profile(profiles: dict[str, Any], argv: list[str]) -> dict[str, Any]:
    memory, cpus = flag(argv, "--memory"), flag(argv, "--cpus")
    return {
        "driver": flag(argv, "--driver") or "docker",
        "memory_mib": mib(memory) if memory else 4000,
        "cpus": int(cpus) if cpus else 2,
        "kubernetes_version": flag(argv, "--kubernetes-version") or "v1.31.0",
        "ip": f"192.168.49.{1 + len(profiles)}",
        "addons": {"default-storageclass": True, "storage-provisioner": True},
    }


def start(state: dict[str, Any], name: str, argv: list[str]) -> Answer:
    profiles = state["minikube"]["profiles"]
    p = profiles.get(name)
    problem = start_problem(state, name, p, argv)
    if problem:
        return problem
    memory, err = flag(argv, "--memory"), ""
    if p is None:
        p = profiles[name] = new_profile(profiles, argv)
    elif memory and mib(memory) != p["memory_mib"]:
        err = KEPT_MEMORY
    p.update(status="Running", kubelet="Running", apiserver="Running", kubeconfig="Configured")
    out = f"😄  [{name}] minikube v1.34.0 (fake)\n🏄  Done! kubectl is now configured\n"
    return 0, out, err


NO_PROFILES = "🤹  Exiting due to MK_USAGE_NO_PROFILE: No minikube profile was found.\n"


def profile_config(name: str, p: dict[str, Any]) -> dict[str, Any]:
    config = {"Name": name, "Driver": p["driver"], "CPUs": p["cpus"],
              "KubernetesConfig": {"KubernetesVersion": p["kubernetes_version"]}}  # fmt: skip
    if not p.get("hide_memory"):  # a profile whose memory cannot be read
        config["Memory"] = p["memory_mib"]
    return {"Name": name, "Status": p["status"], "Config": config}


def profile_list(state: dict[str, Any], argv: list[str]) -> Answer:
    profiles = state["minikube"]["profiles"]
    if flag(argv, "-o", "--output") != "json":
        table = "".join(f"| {n} | {p['driver']} | {p['status']} |\n" for n, p in profiles.items())
        return (0, table, "") if profiles else (14, "", NO_PROFILES)
    valid = [profile_config(name, p) for name, p in profiles.items()]
    return 0, json.dumps({"invalid": [], "valid": valid}, separators=(",", ":")), ""


def addons(state: dict[str, Any], name: str, p: dict[str, Any], argv: list[str]) -> Answer:
    w = words(argv)
    sub = w[1] if len(w) > 1 else "list"
    table = {a: p["addons"].get(a, False) for a in (*KNOWN_ADDONS, *p["addons"])}
    if sub == "list":
        listed = {a: {"Profile": name, "Status": "enabled" if on else "disabled"}
                  for a, on in sorted(table.items())}  # fmt: skip
        return 0, json.dumps(listed), ""
    addon = w[2] if len(w) > 2 else ""
    if addon not in table:
        return 10, "", f"❌  Exiting due to MK_ADDON_ENABLE: addon '{addon}' is not a valid addon\n"
    p["addons"][addon] = sub == "enable"
    return 0, f"🌟  The '{addon}' addon is {sub}d\n", ""


def ssh(p: dict[str, Any], argv: list[str]) -> Answer:
    command = " ".join(argv[argv.index("--") + 1 :]) if "--" in argv else ""
    if p["status"] != "Running" or p.get("machine_missing"):
        return 80, "", "❌  Exiting due to GUEST_STATUS: state: unknown state\n"
    if "systemctl stop kubelet" in command:
        p["kubelet"] = "Stopped"
    if "pkill kube-apiserver" in command:
        p["apiserver"] = "Stopped"
    if "systemctl restart kubelet" in command or "systemctl start kubelet" in command:
        p.update(kubelet="Running", apiserver="Running")
    return 0, f"(fake node) ran: {command}\n", ""


def dispatch(state: dict[str, Any], name: str, argv: list[str]) -> Answer:
    w = words(argv)
    command = w[0] if w else "help"
    if command == "version":
        return 0, "minikube version: v1.34.0 (fake)\n", ""
    if command == "status":
        return status(state, name, argv)
    if command == "start":
        return start(state, name, argv)
    if command == "profile" and w[1:2] == ["list"]:
        return profile_list(state, argv)
    profiles = state["minikube"]["profiles"]
    if command == "delete":
        gone = profiles.pop(name, None)
        state.get("kube", {}).pop(name, None)  # the cluster's objects lived in its VM
        return 0, f'💀  Removed all traces of the "{name}" cluster.\n' if gone else "", ""
    p = profiles.get(name)
    if p is None:
        return not_found(name)
    return on_profile(command, state, name, p, argv)


def on_profile(
    command: str, state: dict[str, Any], name: str, p: dict[str, Any], argv: list[str]
) -> Answer:
    if command == "stop":
        p["status"] = "Stopped"
        return 0, f'✋  Stopping node "{name}"  ...\n🛑  1 node stopped.\n', ""
    if command == "addons":
        return addons(state, name, p, argv)
    if command == "ssh":
        return ssh(p, argv)
    if command == "update-context":
        p["kubeconfig"] = "Configured"
        return 0, f'🎉  "{name}" context has been updated to point to {p["ip"]}:8443\n', ""
    if command == "logs":
        length = int(flag(argv, "-n", "--length") or 60)
        lines = [f"==> kubelet <== fake log line {i}\n" for i in range(1, 501)]
        return 0, "".join(lines[-length:] if length else []), ""
    return 64, "", f'Error: unknown command "{command}" for "minikube"\n'


def main() -> int:
    argv = sys.argv[1:]
    name = flag(argv, "-p", "--profile") or os.environ.get("MINIKUBE_PROFILE", "minikube")
    fakestate.log({"tool": "minikube", "phase": "start", "argv": argv})
    scripted = fakestate.take_script("minikube", argv)
    if scripted:
        time.sleep(scripted.get("sleep", 0))
        rc, out, err = scripted.get("rc", 1), scripted.get("stdout", ""), scripted.get("stderr", "")
    else:
        with fakestate.locked() as state:
            rc, out, err = dispatch(state, name, argv)
    fakestate.log(
        {"tool": "minikube", "phase": "end", "argv": argv, "rc": rc, "stdout": out, "stderr": err}
    )
    sys.stdout.write(out)
    sys.stderr.write(err)
    return rc


if __name__ == "__main__":
    sys.exit(main())
