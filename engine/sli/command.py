"""`command` probe: a local command. Exit 0 means healthy unless `healthy:` is given;
then its stdout is parsed as a number and judged."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from engine.backends.local.process import run_process
from engine.core.durations import parse_duration
from engine.core.rendering import Renderer
from engine.core.resources import Resources
from engine.sli.judge import Reading, SliVerdict
from engine.sli.registry import ProbeProblem

reads_number = True
command_fields: frozenset[str] = frozenset({"run"})
DEFAULT_TIMEOUT = 10.0


def read(
    spec: Mapping[str, Any],
    render: Renderer,
    numeric: bool,
    secrets: Mapping[str, str],
    resources: Resources,
    withheld_env: frozenset[str] = frozenset(),
) -> Reading:
    run = spec["run"]
    if isinstance(run, list):
        argv, env = render.argv([str(part) for part in run]), None
    else:
        command = render.shell(run)
        argv, env = command.argv, command.env
    timeout = parse_duration(spec["timeout"]) if "timeout" in spec else DEFAULT_TIMEOUT
    outcome = run_process(argv, env=env, timeout=timeout, cap=16 * 1024, withhold=withheld_env)
    if outcome.timed_out or outcome.exit_code is None:
        return Reading.failed(f"the probe command did not finish within {timeout:g}s")
    if not numeric:
        verdict = SliVerdict.HEALTHY if outcome.exit_code == 0 else SliVerdict.UNHEALTHY
        return Reading(
            float(outcome.exit_code), verdict=verdict, detail=f"exit {outcome.exit_code}"
        )
    return _number(outcome.exit_code, outcome.stdout)


def _number(exit_code: int, stdout: str) -> Reading:
    if exit_code != 0:
        return Reading.failed(f"the probe command exited {exit_code}")
    text = stdout.strip()
    if not text:
        return Reading.failed("the probe command printed nothing")
    try:
        return Reading(float(text.split()[-1]), detail=text[-80:])
    except ValueError:
        return Reading.failed(f"the probe printed {text[-40:]!r}, not a number")


def problems(spec: Mapping[str, Any]) -> Iterator[ProbeProblem]:
    """Nothing beyond the schema."""
    return iter(())
