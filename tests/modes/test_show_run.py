"""`runbook show RUN_ID` tells the whole run, in text and JSON: what ran (playbook file,
content hash, engine version), with which inputs (redacted), who ran it, how it ended
and how long it took; each event at the time it happened; every SLI sample with its
phase, value and verdict; commands as a shell prints them; where output was cut."""

from __future__ import annotations

import itertools
import json
import shlex
import sqlite3
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from prom_fixtures import PromStack
from run_fixtures import current_env, run_env, run_id_of, runbook  # noqa: F401
from tree import TESTS

from engine import __version__

HEADER = "apiVersion: runbook/v1\nkind: Playbook\n"


def _write(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / f"{name}.yaml"
    meta = f"metadata: {{name: {name}, version: 1.2.3, maturity: 2, owner: tests}}\n"
    path.write_text(HEADER + meta + body, encoding="utf-8")
    return path


def _run(*args: str, extra_env: dict[str, str] | None = None) -> str:
    ran = runbook("run", *args, extra_env=extra_env)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    return run_id_of(ran.stdout)


def _show(run_id: str) -> str:
    shown = runbook("show", run_id)
    assert shown.returncode == 0, shown.stderr
    return shown.stdout


def _show_json(run_id: str) -> dict[str, Any]:
    shown = runbook("show", run_id, "--output", "json")
    assert shown.returncode == 0, shown.stderr
    data: dict[str, Any] = json.loads(shown.stdout)
    return data


def _events(shown: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [event for event in shown["events"] if event["kind"] == kind]


SECRET_INPUT = """\
inputs:
  note: {type: string}
  count: {type: integer, default: 3}
secrets:
  token: {env: CANARY_TOKEN}
steps:
  - id: say
    readonly: true
    shell: {run: ["echo", "it's {{ inputs.count }}", "a b"]}
"""


def test_the_header_tells_what_ran_with_which_inputs_and_how_it_ended(tmp_path: Path) -> None:
    canary = "canary-5e1f0c"
    path = _write(tmp_path, "show-header", SECRET_INPUT)
    run_id = _run(str(path), "-i", f"note={canary}", extra_env={"CANARY_TOKEN": canary})

    text, shown = _show(run_id), _show_json(run_id)

    run = shown["run"]
    assert canary not in text + json.dumps(shown)
    lines = text.splitlines()
    assert lines[0] == f"run {run['run_id']}: show-header 1.2.3 (live) — completed"
    assert lines[1].startswith("operator: test-operator (declared), OS user: ")
    assert f"playbook: show-header 1.2.3, file {path}" in lines
    assert f"content: sha256 {run['content_hash']}" in lines
    assert f"engine: runbook-engine {__version__}" in lines
    assert "inputs: note=«redacted:token» count=3" in lines
    ended = next(line for line in lines if line.startswith("mode: "))
    assert ended.startswith("mode: live, outcome: completed in ")
    # JSON: the keys scripts use are kept, the new ones beside them.
    for key in ("run_id", "playbook", "version", "content_hash", "mode", "status", "operator"):
        assert key in run
    assert (run["file"], run["engine_version"]) == (str(path), __version__)
    assert run["inputs"] == {"note": "«redacted:token»", "count": 3}
    assert run["os_user"] == _events(shown, "run_started")[0]["data"]["os_user"]
    assert run["duration"] == pytest.approx(run["finished_at"] - run["started_at"])
    assert {"seq", "ts", "kind", "step_id", "data", "offset"} <= set(shown["events"][0])


def test_commands_are_shown_as_a_shell_prints_them(tmp_path: Path) -> None:
    script = 'steps:\n  - id: script\n    readonly: true\n    shell: {run: "echo one\\necho two"}\n'
    path = _write(tmp_path, "show-commands", SECRET_INPUT.replace("steps:\n", script + "\n", 1))
    run_id = _run(str(path), "-i", "note=x", extra_env={"CANARY_TOKEN": "unused-secret"})

    text = _show(run_id)

    argv = shlex.join(["echo", "it's 3", "a b"])
    assert f"step_intent say: $ {argv}" in text
    assert "step_intent script: $ echo one\n" in text
    assert "\n" + " " * 13 + "echo two\n" in text  # the script's next line, under it
    assert "['echo'" not in text and "command='" not in text


LONG_OUTPUT = """\
steps:
  - id: many
    readonly: true
    shell: {run: "seq 1 40"}
  - id: flood
    readonly: true
    shell: {run: "seq 1 100000"}
"""


def test_the_lines_of_output_left_out_are_counted(tmp_path: Path) -> None:
    run_id = _run(str(_write(tmp_path, "show-cuts", LONG_OUTPUT)))

    text = _show(run_id)

    many = text.split("step_result many: ")[1].split("\n+")[0]
    assert many.splitlines()[1:] == [
        " " * 11 + f"│ {line}"
        for line in ["… 35 lines cut (--output json has them)", "36", "37", "38", "39", "40"]
    ]
    flood = text.split("step_result flood: ")[1]
    assert "│ … earlier output cut: the engine recorded its last 65536 characters" in flood
    assert " lines cut (--output json has them)" in flood
    assert flood.splitlines()[-2] == " " * 11 + "│ 100000"
    output = _events(_show_json(run_id), "step_result")[0]["data"]["output"]
    assert output.splitlines() == [str(n) for n in range(1, 41)]


def _slow_recovery(tmp_path: Path) -> Path:
    """One 1-step playbook whose step heals a command SLI, then watched for ~2 s."""
    state = tmp_path / "errors"
    state.write_text("5\n")
    sli = (
        f"sli:\n  probe:\n    command: {{run: ['cat', '{state}']}}\n  healthy: {{below: 1}}\n"
        "  settle: 600ms\n  samples: 4\n  interval: 400ms\n  timeout: 10s\n"
    )
    step = (
        f"steps:\n  - id: heal\n    shell: {{run: 'echo 0 > {state}'}}\n"
        f"    undo: {{shell: {{run: 'echo 5 > {state}'}}}}\n"
    )
    return _write(tmp_path, "show-times", sli + step)


def test_each_event_is_at_the_time_it_happened_not_when_it_was_committed(
    tmp_path: Path,
) -> None:
    run_id = _run(str(_slow_recovery(tmp_path)))

    shown = _show_json(run_id)

    intent = _events(shown, "step_intent")[0]
    result = _events(shown, "step_result")[0]
    # The step took milliseconds; its result was committed after the SLI watch (~2 s).
    assert result["ts"] - intent["ts"] < result["data"]["duration"] + 0.3
    finished = _events(shown, "run_finished")[0]
    assert finished["ts"] - result["ts"] > 1.5
    samples = [e for e in _events(shown, "sli_sample") if e["data"]["phase"] != "pre-check"]
    assert len(samples) >= 4
    for sample in samples:
        assert sample["ts"] == pytest.approx(sample["data"]["sample_ts"], abs=0.2)
    gaps = [b["ts"] - a["ts"] for a, b in itertools.pairwise(samples)]
    assert min(gaps) > 0.3  # 400 ms apart, not one commit's time
    text = _show(run_id)
    offsets = [
        float(line.split("s ", 1)[0].lstrip("+ "))
        for line in text.splitlines()
        if " sli_sample" in line
    ]
    assert len(set(offsets)) == len(offsets)


def test_every_sli_sample_shows_its_phase_verdict_and_value(tmp_path: Path) -> None:
    run_id = _run(str(_slow_recovery(tmp_path)))

    text, shown = _show(run_id), _show_json(run_id)

    sample_lines = [line for line in text.splitlines() if " sli_sample" in line]
    samples = _events(shown, "sli_sample")
    assert len(sample_lines) == len(samples) >= 5
    assert sample_lines[0].endswith(" sli_sample: pre-check unhealthy, value 5")
    assert sample_lines[-1].endswith(
        f" sli_sample: {samples[-1]['data']['phase']} healthy, value 0"
    )


def test_a_ledger_written_before_event_times_were_kept_still_shows(tmp_path: Path) -> None:
    """Records of an older engine: fields it did not write are absent, never a crash."""
    run_id = _run(str(_write(tmp_path, "show-old", LONG_OUTPUT)))
    conn = sqlite3.connect(current_env().ledger)
    with conn:
        conn.execute(
            "UPDATE events SET data = json_remove(data, '$.duration', '$.attempts')"
            " WHERE run_id = ? AND kind = 'step_result'",
            (run_id,),
        )
        conn.execute(
            "INSERT INTO events (run_id, seq, ts, kind, step_id, data) VALUES"
            " (?, 100, 1, 'sli_sample', NULL, ?), (?, 101, 1, 'from_the_future', NULL, '{}')",
            (run_id, json.dumps({"phase": "after", "verdict": "healthy", "detail": "{}"}), run_id),
        )
    conn.close()

    text = _show(run_id)

    assert "step_result many: status succeeded, exit code 0\n" in text
    assert "sli_sample: phase after, verdict healthy\n" in text
    assert "from_the_future" in text
    assert "{}" not in text
    assert json.loads(runbook("show", run_id, "-o", "json").stdout)["events"][-1]["data"] == {}


@pytest.mark.integration
def test_an_aggregated_prometheus_value_has_no_empty_label_set(
    prom_stack: PromStack, tmp_path: Path
) -> None:
    job = f"job{uuid.uuid4().hex[:8]}"
    query = f'max(rb_errors{{job="{job}"}})'
    prom_stack.push(job, "rb_errors", 5)
    prom_stack.wait_for(query, 5)
    heal = f"{sys.executable} {TESTS / 'push_metric.py'} {prom_stack.pushgateway_url}"
    url = prom_stack.prometheus_url
    body = (
        f"sli:\n  probe:\n    prometheus: {{url: '{url}', query: '{query}'}}\n"
        "  healthy: {below: 1}\n  settle: 1200ms\n  samples: 2\n  interval: 700ms\n"
        f"steps:\n  - id: heal\n    shell: {{run: '{heal}/metrics/job/{job} rb_errors 0'}}\n"
        "    irreversible: it only pushes a metric\n"
    )
    ran = runbook("run", str(_write(tmp_path, "show-prometheus", body)))
    assert ran.returncode == 0, ran.stdout + ran.stderr
    run_id = run_id_of(ran.stdout)

    text, shown = _show(run_id), _show_json(run_id)

    assert "({})" not in ran.stdout + text
    assert " sli_sample: pre-check unhealthy, value 5\n" in text
    assert text.rstrip().splitlines()[-2].endswith(" healthy, value 0")
    assert {s["data"]["detail"] for s in _events(shown, "sli_sample")} == {""}
