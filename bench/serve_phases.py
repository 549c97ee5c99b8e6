"""Where `runbook serve`'s alert → first action goes, phase by phase.

    python bench/serve_phases.py [--alerts 40]
    RUNBOOK_CGROUPS=off python bench/serve_phases.py     # without a cgroup per command

The server runs in this process, on loopback, with the playbook of `bench/serve.py`;
the engine functions on the path are wrapped to record when they start and end, and
each alert's timeline is cut into phases (medians and 90th percentiles over the alerts,
after 3 warm-ups). Best effort: it wraps engine internals by name, and stops with the
name of the one that is missing if they have changed.
"""

from __future__ import annotations

import argparse
import functools
import inspect
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import urllib3

if __package__ in (None, ""):  # `python bench/serve_phases.py`: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import serve as bench_serve
from engine.backends.local import containment
from engine.hooks import app, catalog, dispatcher, server
from engine.ledger import Ledger
from engine.run import runner

Event = tuple[float, str]
EVENTS: list[Event] = []
WARM_UP = 3

# (owner, attribute, label): the functions on the path from the POST to the step
WRAPPED: list[tuple[Any, str, str]] = [
    (app, "_commit", "commit"),
    (dispatcher.Dispatcher, "decide_pending", "decide_pending"),
    (Ledger, "decide_alerts", "decide_alert"),
    (dispatcher.Dispatcher, "_run", "run"),
    (Ledger, "claim_trigger", "claim"),
    (dispatcher, "prepare", "prepare"),
    (dispatcher, "make_run", "make_run"),
    (runner.Run, "_start", "start"),
    (runner.Run, "_lock", "lock"),
    (runner.Run, "_precheck_refusal", "precheck"),
    (runner.Run, "_run_step", "step"),
    (containment.Containment, "_move", "move"),
    (catalog.Catalog, "refresh", "refresh"),
]


def wrap(owner: Any, name: str, label: str) -> None:
    if not hasattr(owner, name):
        raise SystemExit(f"engine internals changed: {getattr(owner, '__name__', owner)}.{name}")
    original: Callable[..., Any] = getattr(owner, name)

    @functools.wraps(original)
    def timed(*args: Any, **kwargs: Any) -> Any:
        EVENTS.append((time.time(), f"{label}>"))
        try:
            return original(*args, **kwargs)
        finally:
            EVENTS.append((time.time(), f"{label}<"))

    @functools.wraps(original)
    async def timed_async(*args: Any, **kwargs: Any) -> Any:
        EVENTS.append((time.time(), f"{label}>"))
        try:
            return await original(*args, **kwargs)
        finally:
            EVENTS.append((time.time(), f"{label}<"))

    setattr(owner, name, timed_async if inspect.iscoroutinefunction(original) else timed)


def phases(events: list[Event], sent: float, first: float) -> dict[str, float]:
    """One alert's timeline cut into phases, in ms."""
    at: dict[str, float] = {}
    moves: list[float] = []
    for stamp, label in sorted(events):
        at.setdefault(label, stamp)
        if label.startswith("move"):
            moves.append(stamp)
    step_started = moves[1] if len(moves) > 1 else at["step>"]

    def span(a: str, b: str) -> float:
        return (at[b] - at[a]) * 1000

    return {
        "POST → notification committed": (at["commit<"] - sent) * 1000,
        "reply → the deciding thread awake": span("commit<", "decide_pending>"),
        "decide: match, bind, record": span("decide_pending>", "decide_alert<"),
        "hand-off to the run pool": span("decide_alert<", "run>"),
        "claim the trigger": span("claim>", "claim<"),
        "prepare: load, bind, render": span("prepare>", "prepare<"),
        "make_run": span("make_run>", "make_run<"),
        "run start record": span("start>", "start<"),
        "target lock": span("lock>", "lock<"),
        "SLI read before step 1": span("precheck>", "precheck<"),
        "step: move into the command's cgroup": (
            (moves[1] - moves[0]) * 1000 if len(moves) > 1 else 0.0
        ),
        "step: spawn → bash wrote the time": (first - step_started) * 1000,
        "total: alert → first action": (first - sent) * 1000,
    }


def start_server(root: Path) -> str:
    marks, playbooks = root / "marks", root / "playbooks"
    marks.mkdir()
    playbooks.mkdir()
    text = bench_serve.PLAYBOOK.format(alertname=bench_serve.ALERTNAME, marks=marks)
    (playbooks / "bench-serve.yaml").write_text(text, encoding="utf-8")
    config = root / "serve.yaml"  # the bench's budgets: more runs an hour than the defaults
    config.write_text(bench_serve.SERVE_CONFIG, encoding="utf-8")
    port = bench_serve.free_port()
    settings = server.ServeSettings(
        playbooks=str(playbooks),
        listen=f"127.0.0.1:{port}",
        home=root / "home",
        config=str(config),
    )
    threading.Thread(target=server.serve, args=(settings,), daemon=True).start()
    return f"http://127.0.0.1:{port}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--alerts", type=int, default=40, help="alerts measured (after 3)")
    args = parser.parse_args(argv)
    for owner, name, label in WRAPPED:
        wrap(owner, name, label)
    root = Path(tempfile.mkdtemp(prefix="runbook-serve-phases-"))
    url = start_server(root)
    http = urllib3.PoolManager(retries=False)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if http.request("GET", url + "/readyz", timeout=1.0).status == 200:
                break
        except urllib3.exceptions.HTTPError:
            time.sleep(0.01)
    rows = []
    for index in range(WARM_UP + args.alerts):
        EVENTS.clear()
        alert_id = f"phase-{index}"
        sent = time.time()
        http.request(
            "POST",
            url + "/hooks/alertmanager",
            body=bench_serve.notification(alert_id),
            headers={"Content-Type": "application/json"},
        )
        first = bench_serve.wait_action(root / "marks", alert_id)
        time.sleep(0.2)  # the run ends (its SLI read after the step) before the next alert
        if index >= WARM_UP:
            rows.append(phases(list(EVENTS), sent, first))
    print(f"{args.alerts} alerts, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}\n")
    print("| phase | median ms | p90 ms |\n| --- | ---: | ---: |")
    for name in rows[0]:
        values = [row[name] for row in rows]
        p90 = statistics.quantiles(values, n=10)[-1] if len(values) > 1 else values[0]
        print(f"| {name} | {statistics.median(values):.1f} | {p90:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
