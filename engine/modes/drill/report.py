"""`runbook drill`: the report of a game day, as text for people or JSON for machines."""

from __future__ import annotations

import json

from engine.modes.drill.verdict import DrillReport, Verdict

HEADLINES = {
    Verdict.PASSED: "PASSED: fault detected, SLI recovered by the playbook, fault removed",
    Verdict.NOT_DETECTED: "FAILED: the SLI did not notice the fault",
    Verdict.NOT_RECOVERED: "FAILED: the playbook did not recover the SLI (in time)",
    Verdict.INJECT_FAILED: "FAILED: the fault could not be injected",
    Verdict.REVERT_FAILED: "REVERT FAILED: the injected fault may still be in place",
    Verdict.ABORTED: "ABORTED: the drill was interrupted; the fault was reverted",
    Verdict.REFUSED: "REFUSED: nothing was injected",
    Verdict.STOPPED: "STOPPED: an error ended the drill after the inject; the fault was reverted",
    Verdict.CASE_FAILED: "FAILED: the drill passed, but the regression case's expectation did not"
    " hold",
}


# A drill of a case of a failed run whose playbook still did not recover: the incident again.
STILL_FAILING = (
    "FAILED: the regression case's expectation did not hold: the playbook still does not"
    " recover, as in the failed run the case came from; the fault was reverted"
)


def _headline(report: DrillReport) -> str:
    failed_run = report.case is not None and "of_failed_run" in report.case
    if report.verdict == Verdict.CASE_FAILED and failed_run and report.recovered_after is None:
        return STILL_FAILING
    return HEADLINES[report.verdict]


def render_json(report: DrillReport) -> str:
    """The report as one JSON object (also of a refused drill: verdict `refused`)."""
    return json.dumps(report.as_dict(), indent=2, sort_keys=True)


def render_text(report: DrillReport) -> str:
    lines = [_title(report), f"  verdict:    {_headline(report)}"]
    if report.verdict != Verdict.REFUSED:  # a refused drill measured nothing
        lines += _timings(report)
    if report.baseline is not None:
        lines.append(f"  baseline:   SLI {report.baseline.verdict} {_value(report.baseline.value)}")
    for part in report.parts:
        message = f" ({part.message})" if part.message else ""
        lines.append(
            f"  {part.name:<10}  run {part.run_id}: {part.outcome} in {part.seconds:g}s{message}"
        )
    lines += _case_lines(report)
    lines += [f"  finding:    {finding}" for finding in report.findings]
    if report.parts:
        lines.append("`runbook show RUN_ID` replays each part.")
    return "\n".join(lines)


def _case_lines(report: DrillReport) -> list[str]:
    """The regression case the drill ran, and each expectation: held or not."""
    case = report.case
    if case is None:
        return []
    lines = [f"  case:       {case['name']} ({case['file']}, sha256 {case['sha256'][:12]})"]
    failed = case.get("of_failed_run")
    if isinstance(failed, dict):
        lines.append(
            f"    the case came from a failed run ({failed.get('id')} ended"
            f" {failed.get('outcome')}): the playbook must now recover in time"
        )
    content = case.get("content_hash")
    if isinstance(content, dict) and not content.get("same"):
        lines.append(
            f"    playbook content changed since the case ({str(content['case'])[:12]}, now"
            f" {str(content['now'])[:12]}): the expectation decides"
        )
    for expectation in case.get("expectations", []):
        mark = "held" if expectation["held"] else "NOT HELD"
        lines.append(f"    {mark:<9} {expectation['name']}: {expectation['says']}")
    return lines


def _timings(report: DrillReport) -> list[str]:
    limit = report.detect_within
    return [
        f"  detection:  {_seconds(report.detected_after)}"
        + (f" (limit {limit:g}s)" if limit is not None else ""),
        f"  recovery:   {_seconds(report.recovered_after)} after the injection"
        + (f" (limit {report.recover_within:g}s)" if report.recover_within is not None else ""),
    ]


def _title(report: DrillReport) -> str:
    """Which drill of what: the playbook's name and version as far as they could be read."""
    recorded = f" {report.drill_id}" if report.drill_id else ""
    named = " ".join(part for part in (report.playbook, report.version) if part)
    return (
        f"drill{recorded} of {named} ({report.file})"
        if named
        else f"drill{recorded} of {report.file}"
    )


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:g}s"


def _value(value: float | None) -> str:
    return "" if value is None else f"{value:g}"
