"""Load a playbook file: safe YAML → schema → model → semantic checks.

Every problem is collected; `load_playbook` raises them all at once.
"""

from __future__ import annotations

from msgspec import Struct

from engine.core.errors import InvalidPlaybook
from engine.core.findings import Finding
from engine.model.playbook import Playbook
from engine.model.yamlsource import load_source
from engine.playbook.build import build_playbook
from engine.playbook.checks import semantic_findings
from engine.playbook.identify import declares_playbook, not_a_playbook_finding
from engine.playbook.schema import schema_findings
from engine.playbook.templates import TemplateChecker

__all__ = ["CheckReport", "check_file", "load_playbook"]


class CheckReport(Struct, frozen=True):
    """The outcome of checking one file: the model when it could be built, and findings."""

    file: str
    playbook: Playbook | None
    findings: tuple[Finding, ...]
    # Why the file was not checked (a directory's YAML that is not a playbook), or "".
    skipped: str = ""

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "warning")

    def ok(self, strict: bool = False) -> bool:
        """No errors (and, when strict, no warnings); a skipped file has neither."""
        return not self.errors and not (strict and self.warnings)


def check_file(file: str, text: str | None = None) -> CheckReport:
    """Check one playbook file; never raises for a bad playbook."""
    try:
        source = load_source(file, text)
    except InvalidPlaybook as exc:
        return CheckReport(file, None, tuple(exc.findings))
    if not declares_playbook(source.data):  # its other "errors" would be noise
        return CheckReport(file, None, (not_a_playbook_finding(file, source.data),))
    findings = schema_findings(source)
    findings += TemplateChecker(source).check()
    if any(f.severity == "error" for f in findings):
        return CheckReport(file, None, tuple(_ordered(findings)))
    playbook, build_problems = build_playbook(source)
    findings += build_problems + semantic_findings(playbook, source)
    return CheckReport(file, playbook, tuple(_ordered(findings)))


def load_playbook(file: str, strict: bool = False, text: str | None = None) -> Playbook:
    """The model of a valid playbook; InvalidPlaybook with every finding otherwise."""
    report = check_file(file, text)
    if not report.ok(strict) or report.playbook is None:
        problems = report.findings if strict else report.errors
        raise InvalidPlaybook(findings=list(problems))
    return report.playbook


def _ordered(findings: list[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (f.location.line, f.location.col))
