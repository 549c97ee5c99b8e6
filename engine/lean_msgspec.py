"""Import msgspec without typing_extensions: a few ms off the start of `runbook run`.

msgspec's C core imports `msgspec._utils` as it loads, and that imports
`typing_extensions` when it is installed, with `inspect`, `ast`, `dis` and `tokenize`:
about half of msgspec's import time. msgspec uses it only to read typing_extensions'
own types in annotations it decodes or converts; the engine has none (ruff bans the
module in engine/), and without it msgspec uses `typing`'s equivalents. The block
lasts only while msgspec loads: whatever imports typing_extensions later gets it.
"""

from __future__ import annotations

import sys


def import_msgspec() -> None:
    """Import msgspec, without typing_extensions unless something loaded that first."""
    if "msgspec" in sys.modules or "typing_extensions" in sys.modules:
        return
    sys.modules["typing_extensions"] = None  # type: ignore[assignment]  # its import fails
    try:
        import msgspec  # noqa: F401
    finally:
        if sys.modules.get("typing_extensions", 0) is None:
            del sys.modules["typing_extensions"]
