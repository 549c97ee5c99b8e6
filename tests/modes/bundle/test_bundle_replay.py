"""`runbook replay FILE.tar.gz`: a real run's bundle judged again against its playbook,
unchanged (no difference, exit 0) and edited (each difference named, exit 1), and
executing nothing: no step, no SLI probe."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bundle_helpers import recovered_run
from run_fixtures import runbook
from sli_helpers import run_cli, run_id_of


def replayed(bundle: Path, *args: str) -> tuple[int, dict[str, Any]]:
    done = run_cli("replay", str(bundle), *args, "--output", "json")
    assert done.returncode in (0, 1), done.stdout + done.stderr
    return done.returncode, json.loads(done.stdout)


def line_of(path: Path, text: str) -> int:
    return path.read_text().splitlines().index(text) + 1


def kinds(report: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(d["what"], d["step"]) for d in report["differences"]]


def test_an_unchanged_playbook_replays_without_difference_and_runs_nothing(
    tmp_path: Path,
) -> None:
    path, bundle = recovered_run(tmp_path)
    markers = tmp_path / "markers"
    for marker in markers.iterdir():
        marker.unlink()
    probed = (tmp_path / "probes").read_text()

    done = run_cli("replay", str(bundle))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no difference" in done.stdout
    assert f"against {path}" in done.stdout
    code, report = replayed(bundle)
    assert code == 0 and report["same"] is True and report["differences"] == []
    assert report["verified"] == [
        "SHA256SUMS",
        "events.jsonl",
        "manifest.json",
        "playbook.yaml",
        "sli.jsonl",
    ]
    assert list(markers.iterdir()) == []  # no step ran
    assert (tmp_path / "probes").read_text() == probed  # no probe either


def test_a_changed_when_is_a_difference_at_its_step(tmp_path: Path) -> None:
    path, bundle = recovered_run(tmp_path)
    text = path.read_text()
    path.write_text(text.replace("  - id: step2\n", "  - id: step2\n    when: 'false'\n", 1))
    code, report = replayed(bundle)
    assert code == 1
    assert ("when", "step2") in kinds(report) and ("content", None) in kinds(report)
    (when,) = [d for d in report["differences"] if d["what"] == "when"]
    assert when["recorded"] == "ran (succeeded)"
    assert when["now"] == "would be skipped: `false` is false"
    where = f"{path}:{line_of(path, '  - id: step2')}:5"
    assert when["where"] == where

    text = run_cli("replay", str(bundle)).stdout
    assert f"when step2 ({where})" in text and "recorded: ran (succeeded)" in text


def test_an_added_step_is_a_difference_at_its_line(tmp_path: Path) -> None:
    path, bundle = recovered_run(tmp_path)
    added = "  - id: extra\n    readonly: true\n    shell: {run: ['true']}\n"
    path.write_text(path.read_text().replace("steps:\n", f"steps:\n{added}", 1))
    code, report = replayed(bundle)
    assert code == 1
    (step,) = [d for d in report["differences"] if d["what"] == "steps"]
    assert step["step"] == "extra" and step["now"] == "added"
    assert step["where"] == f"{path}:{line_of(path, '  - id: extra')}:5"


def test_a_stricter_sli_threshold_changes_the_stop_on_recovery(tmp_path: Path) -> None:
    path, bundle = recovered_run(tmp_path)
    path.write_text(path.read_text().replace("healthy: {below: 1}", "healthy: {below: 0}"))
    code, report = replayed(bundle)
    assert code == 1
    (recovery,) = [d for d in report["differences"] if d["what"] == "stop-on-recovery"]
    assert recovery["recorded"] == "recovered after step2"
    assert recovery["now"] == "not recovered within the recorded samples"
    (samples,) = [d for d in report["differences"] if d["what"] == "sli"]
    assert samples["recorded"] == "2 of 4 samples judged otherwise"
    assert "after step2: 0.0 healthy → unhealthy" in samples["now"]


def test_a_looser_sli_threshold_would_refuse_the_run_at_the_pre_check(tmp_path: Path) -> None:
    path, bundle = recovered_run(tmp_path)
    path.write_text(path.read_text().replace("healthy: {below: 1}", "healthy: {below: 10}"))
    code, report = replayed(bundle)
    assert code == 1
    (guard,) = [d for d in report["differences"] if d["what"] == "guard"]
    assert guard["recorded"] == "SLI pre-check: the run goes on"
    assert guard["now"].startswith("SLI pre-check: refused (nothing to fix")


def test_the_playbook_to_judge_against_can_be_named(tmp_path: Path) -> None:
    path, bundle = recovered_run(tmp_path)
    moved = tmp_path / "moved.yaml"
    path.rename(moved)
    gone = run_cli("replay", str(bundle))
    assert gone.returncode == 2 and "--playbook" in gone.stderr
    assert "Traceback" not in gone.stderr
    code, report = replayed(bundle, "--playbook", str(moved))
    assert code == 0 and report["playbook"] == str(moved)


def test_a_lower_level_changes_the_mode_the_run_would_have(tmp_path: Path) -> None:
    path, bundle = recovered_run(tmp_path)
    path.write_text(path.read_text().replace("maturity: 2", "maturity: 1"))
    code, report = replayed(bundle)
    assert code == 1
    (mode,) = [d for d in report["differences"] if d["what"] == "mode"]
    assert mode["recorded"] == "live (level 2)" and mode["now"] == "guided (level 1)"


REDACTED_INPUT = """\
apiVersion: runbook/v1
kind: Playbook
metadata: {name: redacted-input, version: 1.0.0, maturity: 2, owner: tests}
secrets:
  token: {env: REPLAY_TOKEN}
inputs:
  dsn: {type: string}
  region: {type: string, default: eu}
steps:
  - id: long-dsn
    when: "inputs.dsn | length > 40"
    readonly: true
    shell: {run: ["true"]}
  - id: in-eu
    when: "inputs.region == 'us'"
    readonly: true
    shell: {run: ["true"]}
"""


def test_a_when_on_a_value_the_record_holds_redacted_is_not_judged(tmp_path: Path) -> None:
    token = "t0ken-" + "x" * 24
    path = tmp_path / "redacted-input.yaml"
    path.write_text(REDACTED_INPUT)
    dsn = f"postgres://app:{token}@db/x"
    ran = runbook("run", str(path), "--yes", "-i", f"dsn={dsn}", extra_env={"REPLAY_TOKEN": token})
    assert ran.returncode == 0, ran.stdout + ran.stderr
    bundle = tmp_path / "run.tar.gz"
    assert run_cli("export", run_id_of(ran.stdout), "-o", str(bundle)).returncode == 0
    path.write_text(REDACTED_INPUT.replace("== 'us'", "!= 'us'"))

    code, report = replayed(bundle)

    assert code == 1
    assert kinds(report) == [("content", None), ("when", "in-eu")]
    (note,) = [n for n in report["unjudged"] if n["what"] == "when"]
    assert note["step"] == "long-dsn" and "inputs.dsn" in note["reason"]
    assert "redacted" in note["reason"]
