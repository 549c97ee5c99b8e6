"""The case file: YAML with a comment above each part saying what it is for, written
in one piece (a file beside it, then renamed), 0600, never over an existing file
without `force`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.core.output_file import write_output
from engine.modes.regress.case import (
    MARGIN,
    MIN_SLACK,
    OBSERVED,
    RECOVER_WITHIN,
    SLI_TIMEOUT,
    Case,
    case_data,
)

HEADER = """\
# A regression case, made by `runbook regress` from {kind} {id}.
# `runbook drill --case THIS_FILE` injects the fault and judges the expectation below;
# `runbook drill --case THIS_FILE --dry-run` checks, without side effects, that the
# playbook would still take the same path. Edit it as you would a test.
"""

COMMENTS = {
    "metadata": "# The case's name: drills of it are kept under it (runbook maturity shows it).",
    "source": (
        "# Where it came from: the recorded run or drill, and the playbook it ran (its\n"
        "# content hash then; `file` relative to this file's folder, or absolute)."
    ),
    "fault_context": (
        "# The fault context: the alert's labels and annotations (the `alert` variables\n"
        "# the playbook's templates read) and the inputs. An input listed in `supply` held a\n"
        "# secret and was kept redacted: give it again with -i NAME=VALUE. Any text holding\n"
        "# a declared secret's value is written «redacted:NAME»; a secret listed in\n"
        "# `unscrubbed` could not be read here, and its value was not looked for."
    ),
    "fault": "# The fault to inject: the playbook's own `drill.inject` steps.",
    "expect": (
        "# The expectation: the outcome, within `within` seconds, every step of the playbook\n"
        "# in order with where it was on the path (ran; skipped: its `when:` was false;\n"
        "# not_reached: the SLI recovered first), and that no undo failed.\n"
        "# within: {basis}."
    ),
    "observed": (
        "# What the failed run did, kept to be read: not enforced, since a fixed playbook\n"
        "# is expected to take another path."
    ),
}

# The expectation of a case made of a run that failed or did not recover.
FAILED_EXPECT = (
    "# The expectation: this case was made of a run that ended {outcome}, the incident\n"
    "# the playbook did not fix. It holds once the playbook recovers (completes, without\n"
    "# an SLI) within `within` seconds and no undo fails; the path is free (the failed\n"
    "# run's is under `observed`). `runbook drill --case` exits 1 until then.\n"
    "# within: {basis}."
)


def case_text(case: Case) -> str:
    """The case file's text."""
    import yaml

    data = case_data(case)
    parts = [HEADER.format(kind=case.source.kind, id=case.source.id)]
    parts.append(_dump({"apiVersion": data["apiVersion"], "kind": data["kind"]}))
    for section, comment in COMMENTS.items():
        if section not in data:
            continue
        if section == "expect" and case.observed is not None:
            comment = FAILED_EXPECT.replace("{outcome}", case.observed.outcome)
        said = comment.format(basis=_basis(case)) if section == "expect" else comment
        parts.append(said + "\n" + _dump({section: data[section]}))
    text = "".join(parts)
    yaml.safe_load(text)  # what is written reads back
    return text


def write_case(case: Case, target: Path, force: bool) -> None:
    """Write `case` to `target` in one piece, 0600; an existing file only with `force`,
    never a device, a pipe, a folder or a link (engine/core/output_file.py)."""
    write_output(target, case_text(case), force)


def _basis(case: Case) -> str:
    expect = case.expect
    if expect.basis == OBSERVED:
        return (
            f"the observed {expect.observed:g}s × {MARGIN:g}, at least {MIN_SLACK:g}s more,"
            " rounded up"
        )
    if expect.basis == RECOVER_WITHIN:
        return "the drill's recover_within, counted from the injection"
    if expect.basis == SLI_TIMEOUT:
        return (
            "the sli timeout (the playbook declares no drill.recover_within), for the remediation"
        )
    return "given to runbook regress --within (the playbook declares no time to recover)"


def _dump(data: dict[str, Any]) -> str:
    import yaml

    return str(yaml.dump(data, Dumper=_dumper(), sort_keys=False, allow_unicode=True, width=88))


def _dumper() -> Any:
    """A dumper that quotes every text unless it plainly reads as text in YAML 1.1 and
    1.2 alike, and indents list items under their key."""
    import yaml

    class Dumper(yaml.SafeDumper):
        def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
            super().increase_indent(flow, False)

    def text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        style = None if _plainly_text(value) else '"'
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, text)
    return Dumper


_WORDS_READ_AS_VALUES = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null"})


def _plainly_text(value: str) -> bool:
    """Letters, digits and `-_./` starting with a letter, and no word YAML reads as a value."""
    return (
        bool(value)
        and value[0].isalpha()
        and value.isascii()
        and all(c.isalnum() or c in "-_./" for c in value)
        and value.lower() not in _WORDS_READ_AS_VALUES
    )
