"""A command's output judged against `expect:`: `stdout_matches` is a Python pattern run
by RE2, so a pattern that backtracks cannot pin a run on the output it meets."""

from __future__ import annotations

import time
from pathlib import Path

from run_fixtures import (
    current_env,
    events,
    run_env,  # noqa: F401  (autouse fixture)
    run_id_of,
    runbook,
    steps_playbook,
)


def test_hostile_output_meets_a_backtracking_pattern_and_the_step_fails_at_once(
    tmp_path: Path,
) -> None:
    """`^(\\w+\\s?)+$` on 40 word characters and a `!`: Python's `re` tries 2^40 ways to
    split the word (hours); the step must fail as soon as the command ends."""
    work = current_env().work
    hostile = "a" * 40 + "!"
    variant = steps_playbook(
        tmp_path,
        "redos",
        f"""\
        - id: judged
          readonly: true
          shell: {{run: "echo {hostile}", expect: {{stdout_matches: '^(\\w+\\s?)+$'}}}}
        """,
    )

    started = time.monotonic()
    ran = runbook("run", variant, "-i", f"dir={work}", timeout=20)
    elapsed = time.monotonic() - started

    assert ran.returncode == 1, ran.stdout + ran.stderr
    (result,) = events(run_id_of(ran.stdout), "step_result")
    assert result["data"]["status"] == "failed"
    assert result["data"]["message"] == "stdout does not match " + repr(r"^(\w+\s?)+$")
    assert elapsed < 15, elapsed  # the engine's start and the run; the match itself is µs
