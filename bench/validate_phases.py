"""Where `runbook validate` spends its time: each phase of `check_file`, timed alone.

Run by bench/validate.py with the engine's interpreter: `python validate_phases.py DIR`.
Prints `phase=seconds` lines (totals over every file in DIR). It calls engine
internals, so it is best effort: if they change, the benchmark reports that and
the end-to-end number stays valid.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path


def main(directory: str) -> None:
    start = time.perf_counter()
    import yaml

    from engine.playbook.build import build_playbook
    from engine.playbook.checks import semantic_findings
    from engine.playbook.schema import schema_findings, validator
    from engine.playbook.templates import TemplateChecker
    from engine.playbook.yamlsource import load_source, read_bounded

    timings: dict[str, float] = {"imports": time.perf_counter() - start}

    def timed(name: str, fn, *args):  # type: ignore[no-untyped-def]
        t0 = time.perf_counter()
        value = fn(*args)
        timings[name] = timings.get(name, 0.0) + time.perf_counter() - t0
        return value

    files = sorted(str(p) for p in Path(directory).rglob("*.yaml"))
    texts = [timed("read files", read_bounded, f) for f in files]
    timed("schema: build validator", validator)
    for file, text in zip(files, texts, strict=True):
        source = timed("yaml: compose + positions", load_source, file, text)
        timed("schema: jsonschema", schema_findings, source)
        timed("templates", lambda s: TemplateChecker(s).check(), source)
        playbook, _ = timed("build model", build_playbook, source)
        timed("semantic checks", semantic_findings, playbook)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    for text in texts:
        timed("(reference, not in total) plain yaml.load", yaml.load, text, loader)
    for name, value in timings.items():
        print(f"{name}={value:.6f}")


if __name__ == "__main__":
    main(sys.argv[1])
