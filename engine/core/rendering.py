"""What a step type, a backend or a probe needs of the template renderer: text, a shell
command whose values travel as environment variables, an argv, and data."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from engine.core.shellsyntax import ShellCommand


class Renderer(Protocol):
    def text(self, template: str) -> str: ...

    def shell(self, template: str) -> ShellCommand: ...

    def argv(self, parts: Sequence[str]) -> list[str]: ...

    def value(self, data: Any) -> Any: ...
