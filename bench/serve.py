"""Benchmark 4: `runbook serve` and Ansible EDA answering Alertmanager, side by side.

Both servers get the same Alertmanager-shaped notifications (webhook body version 4)
on loopback, no auth, and answer a firing `BenchServe` alert with the same action:
`bash` appends the time it started (`$EPOCHREALTIME`, microseconds, the wall clock the
client reads with `time.time()`) to a marker file named by the alert's `id` label. One
line per action run, so runs are counted, and the time an action started is read from
the line, not from when the client noticed the file.

- Footprint: start → ready (runbook: `/readyz` answers 200; EDA: its port accepts),
  the median of several starts; idle RSS of the server and its descendants.
- Alert to first action: sequential alerts with distinct fingerprints; the next is
  sent once the previous run has finished. p50 / p99.
- Storm: targets x duplicates notifications, all sent at once on their own
  connections; reply latency, runs, targets left without a run, time until all ran.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import socket
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import urllib3
from prometheus_client.parser import text_string_to_metric_families

from bench.common import REPO, Tools, environment, log, version_of

ALERTNAME = "BenchServe"
EDA_DIR = REPO / "bench" / "eda"
DEFAULT_EDA_BASE = Path(os.environ.get("TMPDIR", "/tmp")) / "eda-peer"
READY_TIMEOUT = 120.0  # s: a server not ready by then has failed to start
ACTION_TIMEOUT = 120.0  # s: an alert whose action has not started by then is lost
POLL = 0.001  # s between looks at a marker file (the time is read from the file)
WARM_UP_ALERTS = 3

# Targets from the issue (runbook only; EDA's figures are for comparison)
TARGET_P50 = 0.008
TARGET_P99 = 0.050
TARGET_STORM_REPLY_P99 = 0.050
TARGET_STORM_SECONDS = 5.0
TARGET_RSS = 40 * 1024 * 1024
TARGET_READY = 0.5
TARGET_SPEEDUP = 50.0

PLAYBOOK = """\
apiVersion: runbook/v1
kind: Playbook
metadata:
  name: bench-serve
  version: 1.0.0
  maturity: 3
  owner: bench
  description: Append the time the step started to the alert's marker file.
  triggers:
    - alertname: {alertname}
inputs:
  id: {{type: string, pattern: '^[a-z0-9-]+$'}}
targets: ["bench/{{{{ inputs.id }}}}"]
sli:
  probe:
    command: {{run: ["test", "-s", "{marks}/{{{{ inputs.id }}}}"], timeout: 5s}}
  settle: 0s
  samples: 1
  interval: 100ms
  timeout: 5s
steps:
  - id: mark
    timeout: 10s
    shell:
      run:
        - bash
        - -c
        - printf '%s\\n' "$EPOCHREALTIME" >> "$1"
        - bash
        - "{marks}/{{{{ inputs.id }}}}"
    undo: {{shell: {{run: ["rm", "-f", "{marks}/{{{{ inputs.id }}}}"]}}}}
"""


# -- payloads -------------------------------------------------------------------------


def notification(alert_id: str, starts_at: str = "2026-12-07T10:00:00.000Z") -> bytes:
    """A webhook body holding one firing alert; its fingerprint follows its `id`."""
    labels = {"alertname": ALERTNAME, "instance": "localhost", "id": alert_id}
    alert = {
        "status": "firing",
        "labels": labels,
        "annotations": {"summary": f"bench alert {alert_id}"},
        "startsAt": starts_at,
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.invalid/graph",
        "fingerprint": hashlib.sha256(alert_id.encode()).hexdigest()[:16],
    }
    body = {
        "receiver": "bench",
        "status": "firing",
        "alerts": [alert],
        "groupLabels": {"alertname": ALERTNAME},
        "commonLabels": labels,
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.invalid",
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{ALERTNAME}", id="{alert_id}"}}',
        "truncatedAlerts": 0,
    }
    return json.dumps(body).encode()


def marker_times(path: Path) -> list[float]:
    """The start times an action wrote to `path`, one complete line per run."""
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        return []
    return [float(line) for line in text.split("\n")[:-1] if line]


# -- processes ------------------------------------------------------------------------


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (children of children…), from /proc."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rpartition(")")[2].split()[1])
        parents.setdefault(ppid, []).append(int(entry))
    found: list[int] = []
    todo = [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found += children
        todo += children
    return found


def tree_memory(pid: int) -> dict[str, int]:
    """RSS and PSS, in bytes, of `pid` and its descendants."""
    rss = pss = 0
    for member in [pid, *descendants(pid)]:
        try:
            for line in Path(f"/proc/{member}/smaps_rollup").read_text().splitlines():
                key, _, value = line.partition(":")
                if key in ("Rss", "Pss"):
                    amount = int(value.split()[0]) * 1024
                    rss += amount if key == "Rss" else 0
                    pss += amount if key == "Pss" else 0
        except OSError:
            continue
    return {"rss_bytes": rss, "pss_bytes": pss, "processes": 1 + len(descendants(pid))}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


# -- the servers ----------------------------------------------------------------------


@dataclass
class Server:
    """One server under test, started and stopped by the bench."""

    name: str
    argv: list[str]
    env: dict[str, str]
    webhook: str  # path of the webhook, e.g. /hooks/alertmanager
    marks: Path
    log_file: Path
    ready: Callable[[Server], bool]
    finished: Callable[[Server, int], bool]  # every run of the `n` expected ended
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    http: urllib3.PoolManager = field(
        default_factory=lambda: urllib3.PoolManager(retries=False, timeout=600.0)
    )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> float:
        """Start the server; seconds from the spawn until it is ready."""
        self.port = free_port()
        env = {k: v.replace("{port}", str(self.port)) for k, v in self.env.items()}
        argv = [a.replace("{port}", str(self.port)) for a in self.argv]
        with self.log_file.open("ab") as out:
            started = time.perf_counter()
            self.process = subprocess.Popen(
                argv,
                env=env,
                cwd=REPO,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = started + READY_TIMEOUT
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited {self.process.returncode}:\n{self.tail()}")
            if self.ready(self):
                return time.perf_counter() - started
            time.sleep(0.002)
        self.stop()
        raise RuntimeError(f"{self.name} not ready within {READY_TIMEOUT:g}s:\n{self.tail()}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def post(self, body: bytes) -> tuple[int, float]:
        """POST one notification: its status and the seconds until the reply."""
        started = time.perf_counter()
        reply = self.http.request(
            "POST",
            self.url + self.webhook,
            body=body,
            headers={"Content-Type": "application/json"},
        )
        return reply.status, time.perf_counter() - started

    def runs(self) -> int:
        """Action runs so far: lines in every marker file."""
        return sum(len(marker_times(p)) for p in self.marks.iterdir())

    def memory(self) -> dict[str, int]:
        assert self.process is not None
        return tree_memory(self.process.pid)

    def tail(self, size: int = 3000) -> str:
        try:
            return self.log_file.read_text(errors="replace")[-size:]
        except OSError:
            return ""

    def wait_finished(self, runs: int, timeout: float) -> float | None:
        """Seconds until every one of `runs` ended (polled every 5 ms), None on timeout."""
        started = time.perf_counter()
        while time.perf_counter() - started < timeout:
            if self.finished(self, runs):
                return time.perf_counter() - started
            time.sleep(0.005)
        return None


def _runbook_ready(server: Server) -> bool:
    try:
        return server.http.request("GET", server.url + "/readyz", timeout=1.0).status == 200
    except urllib3.exceptions.HTTPError:
        return False


def runbook_metrics(server: Server) -> dict[str, float]:
    """`runbook serve`'s /metrics, samples summed by name."""
    text = server.http.request("GET", server.url + "/metrics", timeout=5.0).data.decode()
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            values[sample.name] = values.get(sample.name, 0.0) + sample.value
    return values


def _runbook_finished(server: Server, runs: int) -> bool:
    values = runbook_metrics(server)
    busy = sum(
        values.get(name, 0.0)
        for name in (
            "runbook_hook_runs_in_flight",
            "runbook_hook_runs_queued",
            "runbook_inbox_pending",
        )
    )
    return values.get("runbook_hook_runs_finished_total", 0.0) >= runs and busy == 0


def _eda_ready(server: Server) -> bool:
    return port_accepts(server.port)


def _eda_finished(server: Server, runs: int) -> bool:
    """Every expected marker line is there and no playbook process is left."""
    assert server.process is not None
    if server.runs() < runs:
        return False
    if descendants(server.process.pid):
        return False
    time.sleep(0.02)  # the runner may be between two processes
    return not descendants(server.process.pid)


# The default budgets (10 runs of a playbook, 30 in all, an hour) would hold back most of
# the bench's alerts: they are raised, every other guard stays as it is by default.
SERVE_CONFIG = """\
guards: {max_runs: {per_playbook: 100000}}
budget: {runs: 100000, window: 1h}
"""


def runbook_server(tools: Tools, root: Path) -> Server:
    marks, playbooks = root / "marks", root / "playbooks"
    marks.mkdir(parents=True)
    playbooks.mkdir()
    text = PLAYBOOK.format(alertname=ALERTNAME, marks=marks)
    (playbooks / "bench-serve.yaml").write_text(text, encoding="utf-8")
    config = root / "serve.yaml"  # budgets sized for the bench's thousands of runs an hour
    config.write_text(SERVE_CONFIG, encoding="utf-8")
    argv = [*tools.runbook_argv(), "serve", "--playbooks", str(playbooks), "--config", str(config)]
    return Server(
        name="runbook serve",
        argv=[*argv, "--listen", "127.0.0.1:{port}"],
        env=environment(tools, RUNBOOK_HOME=str(root / "home")),
        webhook="/hooks/alertmanager",
        marks=marks,
        log_file=root / "server.log",
        ready=_runbook_ready,
        finished=_runbook_finished,
    )


def eda_installed(base: Path) -> bool:
    return (base / "venv" / "bin" / "ansible-rulebook").is_file()


def eda_version(base: Path) -> str:
    if not eda_installed(base):
        return "not installed"
    return version_of([str(base / "venv" / "bin" / "ansible-rulebook"), "--version"])


def eda_server(tools: Tools, base: Path, root: Path) -> Server:
    marks = root / "marks"
    marks.mkdir(parents=True)
    env = environment(tools, BASE=str(base), EDA_MARKS=str(marks))
    env.pop("PYTHONPATH", None)
    return Server(
        name="Ansible EDA",
        argv=["bash", str(EDA_DIR / "start.sh")],
        env={**env, "EDA_PORT": "{port}"},
        webhook="/endpoint",
        marks=marks,
        log_file=root / "server.log",
        ready=_eda_ready,
        finished=_eda_finished,
    )


# -- the measurements -----------------------------------------------------------------


def percentile(samples: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), linear between the closest ranks."""
    ordered = sorted(samples)
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[round(q) - 1]


def distribution(samples: Sequence[float]) -> dict[str, float | int]:
    return {
        "n": len(samples),
        "p50_s": percentile(samples, 50),
        "p99_s": percentile(samples, 99),
        "min_s": min(samples),
        "max_s": max(samples),
        "mean_s": statistics.fmean(samples),
    }


def footprint(server: Server, starts: int, idle_seconds: float) -> dict[str, Any]:
    """Start → ready over `starts` starts; the last start stays up and is measured idle."""
    times = []
    for index in range(starts):
        if index:
            server.stop()
        times.append(server.start())
    time.sleep(idle_seconds)
    memory = server.memory()
    log(
        f"  {server.name}: ready in {statistics.median(times):.3f} s, idle RSS "
        f"{memory['rss_bytes'] / 2**20:.1f} MiB"
    )
    return {
        "ready_s": statistics.median(times),
        "ready_samples_s": times,
        "idle_after_s": idle_seconds,
        "idle": memory,
    }


def wait_action(marks: Path, alert_id: str) -> float:
    """The start time the action of `alert_id` wrote (waits for its line)."""
    path = marks / alert_id
    deadline = time.perf_counter() + ACTION_TIMEOUT
    while time.perf_counter() < deadline:
        times = marker_times(path)
        if times:
            return times[0]
        time.sleep(POLL)
    raise RuntimeError(f"no action for alert {alert_id} within {ACTION_TIMEOUT:g}s")


def sequential(server: Server, alerts: int, tag: str) -> dict[str, Any]:
    """Alert to first action over `alerts` alerts, one at a time, each after the last ended."""
    latencies: list[float] = []
    replies: list[float] = []
    for index in range(WARM_UP_ALERTS + alerts):
        alert_id = f"{tag}-{index}"
        sent = time.time()
        status, reply = server.post(notification(alert_id))
        if status // 100 != 2:
            raise RuntimeError(f"{server.name} answered {status}:\n{server.tail()}")
        first = wait_action(server.marks, alert_id)
        if server.wait_finished(index + 1, ACTION_TIMEOUT) is None:
            raise RuntimeError(f"{server.name}: run {alert_id} never ended:\n{server.tail()}")
        if index >= WARM_UP_ALERTS:
            latencies.append(first - sent)
            replies.append(reply)
    result: dict[str, Any] = {
        "first_action": distribution(latencies),
        "reply": distribution(replies),
        "first_action_samples_s": latencies,
    }
    log(
        f"  {server.name}: alert → first action p50 "
        f"{result['first_action']['p50_s'] * 1000:.1f} ms, p99 "
        f"{result['first_action']['p99_s'] * 1000:.1f} ms over {alerts}"
    )
    return result


async def _post_all(url: str, bodies: Sequence[bytes], timeout: float) -> list[tuple[int, float]]:
    """Every body POSTed at once, each on its own connection: (status, reply seconds)."""
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    client_timeout = aiohttp.ClientTimeout(total=timeout)
    headers = {"Content-Type": "application/json"}
    async with aiohttp.ClientSession(connector=connector, timeout=client_timeout) as session:

        async def one(body: bytes) -> tuple[int, float]:
            started = time.perf_counter()
            try:
                async with session.post(url, data=body, headers=headers) as reply:
                    await reply.read()
                    return reply.status, time.perf_counter() - started
            except (aiohttp.ClientError, TimeoutError):
                return 0, time.perf_counter() - started

        return await asyncio.gather(*(one(body) for body in bodies))


def storm(
    server: Server, targets: int, duplicates: int, expected_runs: int, timeout: float, tag: str
) -> dict[str, Any]:
    """targets x duplicates notifications at once; what came back and what ran."""
    ids = [f"{tag}-{t}" for t in range(targets)]
    bodies = [notification(alert_id) for _ in range(duplicates) for alert_id in ids]
    before = server.runs()
    started = time.perf_counter()
    replies = asyncio.run(_post_all(server.url + server.webhook, bodies, timeout))
    all_replied = time.perf_counter() - started
    finished = server.wait_finished(before + expected_runs, max(0.0, timeout - all_replied))
    all_ran = None if finished is None else all_replied + finished
    time.sleep(1.0)  # runs that would come late (duplicates) have had time to start
    per_target = {alert_id: len(marker_times(server.marks / alert_id)) for alert_id in ids}
    statuses: dict[str, int] = {}
    for status, _ in replies:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    reply = distribution([seconds for _, seconds in replies])
    result: dict[str, Any] = {
        "notifications": len(bodies),
        "targets": targets,
        "duplicates": duplicates,
        "reply": reply,
        "statuses": statuses,
        "accepted": sum(1 for status, _ in replies if status // 100 == 2),
        "all_replied_s": all_replied,
        "runs": sum(per_target.values()),
        "expected_runs": expected_runs,
        "targets_without_run": sum(1 for n in per_target.values() if n == 0),
        "all_ran_s": all_ran,
        "timeout_s": timeout,
        "memory_after": server.memory(),
    }
    log(
        f"  {server.name}: storm of {len(bodies)}: reply p99 "
        f"{reply['p99_s'] * 1000:.1f} ms, {result['runs']} runs, all ran in "
        f"{'—' if all_ran is None else f'{all_ran:.2f} s'}"
    )
    return result


def storm_floor(server: Server, count: int, timeout: float) -> dict[str, Any]:
    """The storm's floor on this machine: as many POSTs of the same bodies at once, from
    the same client, to an endpoint of the same server that answers without any work
    (`/healthz` takes GET only: 405). What the storm's replies take beyond this is the
    inbox's; this part is the client's and the HTTP server's on these cores."""
    bodies = [notification(f"floor-{n}") for n in range(count)]
    replies = asyncio.run(_post_all(server.url + "/healthz", bodies, timeout))
    reply = distribution([seconds for _, seconds in replies])
    p99 = reply["p99_s"] * 1000
    log(f"  {server.name}: HTTP floor, {count} POSTs at once: reply p99 {p99:.1f} ms")
    return {"notifications": count, "reply": reply}


@dataclass(frozen=True)
class Sizes:
    alerts: int  # sequential alerts, runbook
    eda_alerts: int  # sequential alerts, EDA
    storm_targets: int
    storm_duplicates: int
    eda_storm_targets: int
    starts: int  # start → ready samples per server
    eda_starts: int
    eda_storm_timeout: float


def measure(server: Server, sizes: Sizes, eda: bool) -> dict[str, Any]:
    load_before = os.getloadavg()
    result: dict[str, Any] = {"load_before": load_before}
    try:
        result["footprint"] = footprint(server, sizes.eda_starts if eda else sizes.starts, 2.0)
        result["sequential"] = sequential(server, sizes.eda_alerts if eda else sizes.alerts, "seq")
        targets = sizes.eda_storm_targets if eda else sizes.storm_targets
        expected = targets * sizes.storm_duplicates if eda else targets
        timeout = sizes.eda_storm_timeout if eda else 300.0
        result["storm"] = storm(server, targets, sizes.storm_duplicates, expected, timeout, "storm")
        if not eda:
            count = targets * sizes.storm_duplicates
            result["storm_floor"] = storm_floor(server, count, timeout)
    except RuntimeError as exc:
        log(f"  {server.name} failed: {exc}")
        result["error"] = str(exc)
    finally:
        server.stop()
    result["load_after"] = os.getloadavg()
    return result


def run(tools: Tools, root: Path, sizes: Sizes, eda_base: Path) -> dict[str, Any]:
    report: dict[str, Any] = {"sizes": sizes.__dict__, "eda_base": str(eda_base)}
    log("serve: runbook serve")
    if tools.runbook is None:
        report["runbook"] = {"error": "not installed"}
    else:
        report["runbook"] = measure(runbook_server(tools, root / "runbook"), sizes, eda=False)
    if eda_installed(eda_base):
        log("serve: Ansible EDA")
        report["eda"] = measure(eda_server(tools, eda_base, root / "eda"), sizes, eda=True)
    else:
        log(f"serve: Ansible EDA not installed under {eda_base} (bench/eda/install.sh)")
        report["eda"] = {"error": "not installed"}
    report["eda_version"] = eda_version(eda_base)
    report["targets"] = targets(report)
    return report


# -- the report -----------------------------------------------------------------------


def _get(result: dict[str, Any], *path: str) -> Any:
    value: Any = result
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def _check(name: str, limit: str, value: float | None, ok: bool | None) -> dict[str, Any]:
    verdict = "n/a" if value is None or ok is None else "met" if ok else "MISSED"
    return {"name": name, "limit": limit, "value": value, "verdict": verdict}


def targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    rb = report["runbook"]
    p50 = _get(rb, "sequential", "first_action", "p50_s")
    p99 = _get(rb, "sequential", "first_action", "p99_s")
    eda_p50 = _get(report["eda"], "sequential", "first_action", "p50_s")
    reply = _get(rb, "storm", "reply", "p99_s")
    runs = _get(rb, "storm", "runs")
    expected = _get(rb, "storm", "expected_runs")
    lost = _get(rb, "storm", "targets_without_run")
    refused = None
    if _get(rb, "storm", "notifications") is not None:
        refused = rb["storm"]["notifications"] - rb["storm"]["accepted"]
    all_ran = _get(rb, "storm", "all_ran_s")
    rss = _get(rb, "footprint", "idle", "rss_bytes")
    ready = _get(rb, "footprint", "ready_s")
    speedup = eda_p50 / p50 if p50 and eda_p50 else None

    def at_most(value: float | None, limit: float) -> bool | None:
        return None if value is None else value <= limit

    return [
        _check("serve: alert → first action p50 (ms)", "≤ 8", _ms(p50), at_most(p50, TARGET_P50)),
        _check("serve: alert → first action p99 (ms)", "≤ 50", _ms(p99), at_most(p99, TARGET_P99)),
        _check(
            "serve: EDA p50 / runbook p50",
            "≥ 50",
            speedup,
            None if speedup is None else speedup >= TARGET_SPEEDUP,
        ),
        _check(
            "serve: storm reply p99 (ms)",
            "≤ 50",
            _ms(reply),
            at_most(reply, TARGET_STORM_REPLY_P99),
        ),
        _check(
            "serve: storm runs (exactly one per target)",
            f"= {expected}",
            runs,
            None if runs is None else runs == expected,
        ),
        _check(
            "serve: storm refused + targets without a run",
            "= 0",
            None if refused is None or lost is None else refused + lost,
            None if refused is None or lost is None else refused + lost == 0,
        ),
        _check(
            "serve: storm, all runs ended (s)",
            "≤ 5",
            all_ran,
            None if runs is None else all_ran is not None and all_ran <= TARGET_STORM_SECONDS,
        ),
        _check(
            "serve: idle RSS (MiB)",
            "≤ 40",
            None if rss is None else rss / 2**20,
            at_most(rss, TARGET_RSS),
        ),
        _check("serve: start → ready (s)", "≤ 0.5", ready, at_most(ready, TARGET_READY)),
    ]


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000


def _cell(value: Any, scale: float = 1.0, digits: int = 1, unit: str = "") -> str:
    if value is None:
        return "—"
    return f"{value * scale:.{digits}f}{unit}"


def markdown(report: dict[str, Any]) -> list[str]:
    sizes = report["sizes"]
    rb, eda = report["runbook"], report["eda"]
    lines = [
        "### 4. `runbook serve` against Ansible EDA (Alertmanager webhook)",
        "",
        f"Ansible EDA: ansible-rulebook {report['eda_version']}, `ansible.eda.alertmanager`,"
        " one `raw` task, sequential execution strategy. Both on loopback, no auth;"
        " runbook serve with its default `--concurrency 4`.",
        "",
    ]
    for name, result in (("runbook serve", rb), ("Ansible EDA", eda)):
        if "error" in result:
            lines.append(f"- {name}: **{result['error'].splitlines()[0]}**")
            if result["error"] != "not installed":
                lines += ["", "```", result["error"][-1500:], "```"]
    lines += [
        "",
        "| measure | runbook serve | Ansible EDA | EDA / runbook |",
        "| --- | ---: | ---: | ---: |",
    ]
    rows: list[tuple[str, tuple[str, ...], float, int]] = [
        ("start → ready, s (median)", ("footprint", "ready_s"), 1.0, 3),
        ("idle RSS, MiB (server + descendants)", ("footprint", "idle", "rss_bytes"), 2**-20, 1),
        ("idle PSS, MiB", ("footprint", "idle", "pss_bytes"), 2**-20, 1),
        ("alert → first action p50, ms", ("sequential", "first_action", "p50_s"), 1000, 1),
        ("alert → first action p99, ms", ("sequential", "first_action", "p99_s"), 1000, 1),
        ("alert → first action min / max, ms", ("sequential", "first_action"), 1000, 1),
        ("reply to a lone POST p50, ms", ("sequential", "reply", "p50_s"), 1000, 1),
        ("storm: notifications sent at once", ("storm", "notifications"), 1, 0),
        ("storm: accepted (2xx)", ("storm", "accepted"), 1, 0),
        ("storm: reply p50, ms", ("storm", "reply", "p50_s"), 1000, 1),
        ("storm: reply p99, ms", ("storm", "reply", "p99_s"), 1000, 1),
        ("storm: reply max, ms", ("storm", "reply", "max_s"), 1000, 1),
        ("HTTP floor: same POSTs, no work, p99, ms", ("storm_floor", "reply", "p99_s"), 1000, 1),
        ("storm: runs", ("storm", "runs"), 1, 0),
        ("storm: targets left without a run", ("storm", "targets_without_run"), 1, 0),
        ("storm: all runs ended, s", ("storm", "all_ran_s"), 1, 2),
        ("RSS after the storm, MiB", ("storm", "memory_after", "rss_bytes"), 2**-20, 1),
    ]
    for label, path, scale, digits in rows:
        a, b = _get(rb, *path), _get(eda, *path)
        if isinstance(a, dict) or isinstance(b, dict):
            cells = [
                "—" if d is None else f"{d['min_s'] * scale:.1f} / {d['max_s'] * scale:.1f}"
                for d in (a, b)
            ]
            lines.append(f"| {label} | {cells[0]} | {cells[1]} | |")
            continue
        ratio = (
            f"{b / a:.1f}×"
            if isinstance(a, int | float) and isinstance(b, int | float) and a
            else ""
        )
        lines.append(
            f"| {label} | {_cell(a, scale, digits)} | {_cell(b, scale, digits)} | {ratio} |"
        )
    seq_rb, seq_eda = (
        _get(rb, "sequential", "first_action", "n"),
        _get(eda, "sequential", "first_action", "n"),
    )
    storm_eda = _get(eda, "storm")
    lines += [
        "",
        f"Sequential alerts: {seq_rb or '—'} to runbook, {seq_eda or '—'} to EDA (after "
        f"{WARM_UP_ALERTS} warm-up alerts each); each sent once the previous run had ended. "
        f"Storm: {sizes['storm_targets']} targets × {sizes['storm_duplicates']} duplicates to "
        f"runbook (one run per target expected), {sizes['eda_storm_targets']} × "
        f"{sizes['storm_duplicates']} to EDA (one run per notification: it does not "
        "deduplicate). HTTP floor: the storm's POSTs sent the same way to an endpoint of "
        "the same server that does no work (`/healthz`, 405): what the client and the HTTP "
        "stack take on these cores, below which no inbox can answer.",
    ]
    for name, result in (("runbook", rb), ("EDA", eda)):
        statuses = _get(result, "storm", "statuses")
        if statuses:
            shown = ", ".join(f"{code}: {count}" for code, count in sorted(statuses.items()))
            lines.append(
                f"Storm replies to {name} by HTTP status: {shown} (0: no reply within "
                f"{result['storm']['timeout_s']:.0f} s, counted at that time)."
            )
    if storm_eda and storm_eda.get("all_ran_s") is None:
        lines.append(
            f"EDA's storm had not finished after {storm_eda['timeout_s']:.0f} s: "
            f"{storm_eda['runs']} of {storm_eda['expected_runs']} runs by then."
        )
    for name, result in (("runbook", rb), ("EDA", eda)):
        if "load_before" in result:
            before = " ".join(f"{x:.2f}" for x in result["load_before"])
            after = " ".join(f"{x:.2f}" for x in result["load_after"])
            lines.append(f"Load average during {name}'s part: {before} → {after}.")
    return [*lines, ""]
