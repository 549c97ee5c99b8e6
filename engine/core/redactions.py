"""Where the secrets of the runs one command makes are registered, so that what the error
handler says or logs passes through every run's redactor."""

from __future__ import annotations

from collections.abc import Callable


class Redactions:
    """The redactors of the runs one error handler covers: what the handler says or
    logs passes through each. A run registers its redactor through its request
    (`RunRequest.redactions`) once its secrets are known, so a crash cannot leak them."""

    def __init__(self) -> None:
        self._redactors: list[Callable[[str], str]] = []

    def add(self, redact: Callable[[str], str]) -> None:
        """Redact with `redact` too, from now on."""
        self._redactors.append(redact)

    def __call__(self, text: str) -> str:
        for redact in self._redactors:
            text = redact(text)
        return text
