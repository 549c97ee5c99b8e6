"""Where the test tree and the repository are, for tests in any folder of `tests/`."""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
