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

    from engine.model import yamlsource
    from engine.playbook.build import build_playbook
    from engine.playbook.checks import semantic_findings
    from engine.playbook.fastschema import compiled
    from engine.playbook.schema import fast_valid, schema_findings
    from engine.playbook.templates import TemplateChecker

    timings: dict[str, float] = {"imports": time.perf_counter() - start}

    def timed(name: str, fn, *args):  # type: ignore[no-untyped-def]
        t0 = time.perf_counter()
        value = fn(*args)
        timings[name] = timings.get(name, 0.0) + time.perf_counter() - t0
        return value

    def build_data(file: str, node: yaml.Node) -> object:
        try:
            return yamlsource._plain(node)
        except yamlsource._NotPlain:
            return yamlsource._checked(file, node)

    files = sorted(str(p) for p in Path(directory).rglob("*.yaml"))
    texts = [timed("read files", yamlsource.read_bounded, f) for f in files]
    timed("schema: load (or generate) the compiled check", compiled)
    refused = 0
    for file, text in zip(files, texts, strict=True):
        node = timed("yaml: compose (libyaml)", yamlsource._compose, file, text)
        data = timed("yaml: build data", build_data, file, node)
        source = yamlsource.Source(file, data, node, text)
        if not timed("schema: compiled check", fast_valid, data):
            refused += 1
            timed("schema: jsonschema, for the refused files", schema_findings, source)
        timed("templates", lambda s: TemplateChecker(s).check(), source)
        playbook, _ = timed("build model", build_playbook, source)
        timed("semantic checks", semantic_findings, playbook, source)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    for text in texts:
        timed("(reference, not in total) plain yaml.load", yaml.load, text, loader)
    for name, value in timings.items():
        print(f"{name}={value:.6f}")
    print(f"(files refused by the compiled check, not in total)={refused}")


if __name__ == "__main__":
    main(sys.argv[1])
