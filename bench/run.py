"""Run every benchmark side by side in one run; write JSON and markdown to bench/results/.

    /tmp/benchvenv/bin/python bench/run.py            # full run (about 10 minutes)
    /tmp/benchvenv/bin/python bench/run.py --quick    # short version (about 2 minutes)

Tools are found next to the interpreter running this script (a venv's bin/), then on
PATH; a missing peer is reported as "not installed".
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python bench/run.py`: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import serve, startup, steps, validate
from bench.common import REPO, Tools, discover, environment, log, machine, version_of

BENCHMARKS = ("startup", "validate", "steps", "serve")
RESULTS = REPO / "bench" / "results"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short version: fewer runs, smaller N")
    parser.add_argument(
        "--only", choices=BENCHMARKS, action="append", help="run only this benchmark (repeatable)"
    )
    parser.add_argument("--repeat", type=int, help="runs per measurement (default 5; quick 2)")
    parser.add_argument("--startup-runs", type=int, help="runs per start-up command (20; quick 8)")
    parser.add_argument("--playbooks", type=int, default=1000, help="playbooks to validate")
    parser.add_argument("--n1", type=int, default=10, help="small number of steps")
    parser.add_argument(
        "--n2", type=int, help="large number of steps for runbook, chaos, python (1000; quick 50)"
    )
    parser.add_argument(
        "--ansible-raw-n2", type=int, help="large N for ansible raw (200; quick 50)"
    )
    parser.add_argument(
        "--ansible-shell-n2", type=int, help="large N for ansible shell (50; quick 20)"
    )
    parser.add_argument(
        "--serve-alerts", type=int, help="sequential alerts to runbook serve (200; quick 50)"
    )
    parser.add_argument("--eda-alerts", type=int, help="sequential alerts to EDA (200; quick 20)")
    parser.add_argument("--storm-targets", type=int, default=100, help="storm: distinct alerts")
    parser.add_argument(
        "--storm-duplicates", type=int, default=10, help="storm: notifications per alert"
    )
    parser.add_argument(
        "--eda-storm-targets", type=int, help="storm targets sent to EDA (100; quick 10)"
    )
    parser.add_argument(
        "--eda-storm-timeout",
        type=float,
        default=900.0,
        help="seconds EDA's storm may take before its runs are counted as they are",
    )
    parser.add_argument(
        "--eda-base",
        type=Path,
        default=Path(os.environ.get("EDA_BASE", serve.DEFAULT_EDA_BASE)),
        help="where bench/eda/install.sh installed EDA ($EDA_BASE, else $TMPDIR/eda-peer)",
    )
    parser.add_argument("--seed", type=int, default=2024, help="seed of the playbook generator")
    parser.add_argument(
        "--bin-dir", type=Path, help="where the tools live (default: beside python)"
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="results directory")
    parser.add_argument("--keep", action="store_true", help="keep the temporary work directory")
    args = parser.parse_args(argv)
    quick = args.quick
    args.repeat = args.repeat or (2 if quick else 5)
    args.startup_runs = args.startup_runs or (8 if quick else 20)
    args.n2 = args.n2 or (50 if quick else 1000)
    args.ansible_raw_n2 = args.ansible_raw_n2 or (50 if quick else 200)
    args.ansible_shell_n2 = args.ansible_shell_n2 or (20 if quick else 50)
    args.serve_alerts = args.serve_alerts or (50 if quick else 200)
    args.eda_alerts = args.eda_alerts or (20 if quick else 200)
    args.eda_storm_targets = args.eda_storm_targets or (10 if quick else args.storm_targets)
    args.only = args.only or list(BENCHMARKS)
    if not 0 < args.n1 < min(args.n2, args.ansible_raw_n2, args.ansible_shell_n2):
        parser.error("need 0 < --n1, and --n1 below --n2, --ansible-raw-n2, --ansible-shell-n2")
    if args.repeat < 1 or args.startup_runs < 1 or args.playbooks < 1:
        parser.error("--repeat, --startup-runs and --playbooks must be at least 1")
    counts = (args.serve_alerts, args.eda_alerts, args.storm_targets, args.storm_duplicates)
    if min(*counts, args.eda_storm_targets) < 1:
        parser.error("the serve bench's counts must be at least 1")
    return args


def versions(tools: Tools) -> dict[str, str]:
    env = environment(tools)
    return {
        "runbook": version_of([*tools.runbook, "--version"], env)
        if tools.runbook
        else "not installed",
        "ansible-core": version_of([tools.ansible_playbook, "--version"], env)
        if tools.ansible_playbook
        else "not installed",
        "chaostoolkit": version_of([tools.chaos, "--version"], env)
        if tools.chaos
        else "not installed",
        "python": version_of([tools.python, "--version"], env),
    }


def serve_sizes(args: argparse.Namespace) -> serve.Sizes:
    return serve.Sizes(
        alerts=args.serve_alerts,
        eda_alerts=args.eda_alerts,
        storm_targets=args.storm_targets,
        storm_duplicates=args.storm_duplicates,
        eda_storm_targets=args.eda_storm_targets,
        starts=3 if args.quick else 7,
        eda_starts=2 if args.quick else 3,
        eda_storm_timeout=args.eda_storm_timeout,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    tools = discover(args.bin_dir)
    started = time.time()
    report: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "mode": "quick" if args.quick else "full",
        "machine": machine(),
        "load_before": os.getloadavg(),
        "tools": {
            "python": tools.python,
            "runbook": " ".join(tools.runbook) if tools.runbook else None,
            "ansible-playbook": tools.ansible_playbook,
            "chaos": tools.chaos,
        },
        "versions": versions(tools),
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
    }
    log(f"tools: {json.dumps(report['tools'])}")
    with tempfile.TemporaryDirectory(prefix="runbook-bench-") as tmp:
        workdir = Path(tmp)
        if "startup" in args.only:
            report["startup"] = startup.run(tools, args.startup_runs, 3 if args.quick else 7)
        if "validate" in args.only:
            vdir = workdir / "validate"
            report["validate"] = validate.run(tools, vdir, args.playbooks, args.repeat, args.seed)
        if "steps" in args.only:
            sdir = workdir / "steps"
            report["steps"] = steps.run(
                tools,
                sdir,
                args.n1,
                (args.n2, args.ansible_raw_n2, args.ansible_shell_n2),
                args.repeat,
            )
        if "serve" in args.only:
            report["serve"] = serve.run(tools, workdir / "serve", serve_sizes(args), args.eda_base)
        if args.keep:
            kept = Path(tempfile.mkdtemp(prefix="runbook-bench-kept-"))
            os.rename(workdir, kept / "work")
            os.makedirs(workdir)
            log(f"work directory kept in {kept / 'work'}")
    report["load_after"] = os.getloadavg()
    report["duration_s"] = time.time() - started
    write(report, args.out)
    return 0


def markdown(report: dict[str, Any]) -> str:
    m, v = report["machine"], report["versions"]
    lines = [
        f"# runbook-engine benchmarks ({report['mode']} run, {report['started']})",
        "",
        f"Machine: {m['cores']} cores, {m['cpu']}, {m['os']}, Python {m['python']}. "
        f"Load average before / after: {_load(report['load_before'])} / "
        f"{_load(report['load_after'])}. Run took {report['duration_s']:.0f} s.",
        "",
        f"Versions: runbook {v['runbook']}, ansible-core {v['ansible-core']}, "
        f"chaostoolkit {v['chaostoolkit']}, Python {v['python']}.",
        "",
    ]
    if "startup" in report:
        lines += startup.markdown(report["startup"])
    if "validate" in report:
        lines += validate.markdown(report["validate"])
    if "steps" in report:
        lines += steps.markdown(report["steps"])
    if "serve" in report:
        lines += serve.markdown(report["serve"])
    lines += [
        "## Targets",
        "",
        "| target | limit | measured | verdict |",
        "| --- | ---: | ---: | --- |",
    ]
    for target in targets(report):
        value = target["value"]
        shown = "—" if value is None else f"{value:.2f}"
        lines.append(f"| {target['name']} | {target['limit']} | {shown} | {target['verdict']} |")
    return "\n".join([*lines, ""])


def targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    if "startup" in report:
        found.append(report["startup"]["target"])
    if "validate" in report and "target" in report["validate"]:
        found.append(report["validate"]["target"])
    if "steps" in report:
        found += report["steps"]["targets"]
    if "serve" in report:
        found += report["serve"]["targets"]
    return found


def _load(values: tuple[float, float, float] | list[float]) -> str:
    return " ".join(f"{x:.2f}" for x in values)


def write(report: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    text = markdown(report)
    for name in (f"bench-{stamp}", "latest"):
        (out / f"{name}.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        (out / f"{name}.md").write_text(text, encoding="utf-8")
    print(text)
    log(f"results: {out / f'bench-{stamp}.json'} and .md (also latest.json / latest.md)")


if __name__ == "__main__":
    sys.exit(main())
