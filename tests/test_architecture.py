"""The house rules of `engine/` that import-linter's layers contract does not check
(docs/ARCHITECTURE.md): few loose modules, imports at the top of a module except where a
heavy library is kept off the start-up path, and no interpreter internals."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from tree import REPO

ENGINE = REPO / "engine"

# Third-party libraries a run that does not use them never loads: imported by the
# functions that use them.
HEAVY_LIBRARIES = frozenset(
    {"kubernetes", "paramiko", "urllib3", "jinja2", "jsonschema", "fastjsonschema"}
    | {"matplotlib"}
    | {"rich", "regress", "yaml", "ruamel"}
)
# Engine modules imported inside functions on purpose, each for a measured reason.
DEFERRED_ENGINE_IMPORTS = {
    # the compiled cache exists to skip YAML, the schema and the checks on a hit
    ("playbook/compiled.py", "engine.playbook.loader"),
    # the sandbox subclasses jinja2's: a run without a template never loads jinja2
    ("templating/render.py", "engine.templating.sandbox"),
}
# kubectl is also the playbook hook every run loads: the Kubernetes backend is loaded
# by the kubectl steps that use it.
DEFERRED_PACKAGES = {("steps/kubectl.py", "engine.backends.kube.")}
# What may never appear in the engine: interpreter internals and start-up tricks.
FORBIDDEN = {
    r"os\.environ\._data": "the bytes dict behind os.environ",
    r"atexit\._run_exitfuncs": "atexit's private runner",
    r"\bos\._exit\(": "an exit that skips Python's shutdown",
    r"/proc/self/fd": "a descriptor scan that does nothing outside Linux",
    r"sys\.modules\[[^]]+\]\s*=": "a module swapped in sys.modules",
    r"\bgc\.(freeze|disable)\(": "garbage collector tuning",
    r"sys\._getframe": "frame inspection",
}


def _modules() -> list[Path]:
    return sorted(ENGINE.rglob("*.py"))


def _function_imports(file: Path) -> Iterator[tuple[int, str]]:
    for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for inner in ast.walk(node):
                if isinstance(inner, ast.ImportFrom) and inner.module:
                    yield inner.lineno, inner.module
                elif isinstance(inner, ast.Import):
                    yield inner.lineno, inner.names[0].name


def _deferred_on_purpose(relative: str, module: str) -> bool:
    if module.split(".")[0] in HEAVY_LIBRARIES:
        return True
    if relative.startswith("cli/") and module.startswith("engine.") and relative != "cli/main.py":
        return True  # a verb loads the layers below when it runs: `runbook --help` stays light
    if (relative, module) in DEFERRED_ENGINE_IMPORTS:
        return True
    return any(relative == f and module.startswith(p) for f, p in DEFERRED_PACKAGES)


def test_at_most_five_modules_are_loose_at_the_top_of_the_package() -> None:
    loose = sorted(p.name for p in ENGINE.glob("*.py"))
    assert len(loose) <= 5, loose


def test_every_folder_of_the_package_is_a_package() -> None:
    folders = [d for d in ENGINE.rglob("*") if d.is_dir() and d.name != "__pycache__"]
    missing = [str(d.relative_to(REPO)) for d in folders if not (d / "__init__.py").is_file()]
    assert not missing, f"namespace packages: {missing}"


@pytest.mark.parametrize("file", _modules(), ids=lambda p: str(p.relative_to(ENGINE)))
def test_imports_sit_at_the_top_unless_deferred_on_purpose(file: Path) -> None:
    relative = str(file.relative_to(ENGINE))
    stray = [
        f"{relative}:{line}: {module}"
        for line, module in _function_imports(file)
        if not _deferred_on_purpose(relative, module)
    ]
    assert not stray, "imports inside functions (move them to the top): " + ", ".join(stray)


@pytest.mark.parametrize("file", _modules(), ids=lambda p: str(p.relative_to(ENGINE)))
def test_no_interpreter_internals(file: Path) -> None:
    text = file.read_text(encoding="utf-8")
    found = [what for pattern, what in FORBIDDEN.items() if re.search(pattern, text)]
    assert not found, f"{file.relative_to(REPO)}: {found}"


def test_the_rules_catch_what_they_forbid(tmp_path: Path) -> None:
    """The checks above are not vacuous: each flags a module that breaks it."""
    module = tmp_path / "bad.py"
    module.write_text("def f():\n    import json\n    from engine.run import runner\n")
    assert [m for _, m in _function_imports(module)] == ["json", "engine.run"]
    assert not _deferred_on_purpose("run/runner.py", "json")
    assert not _deferred_on_purpose("modes/run.py", "engine.run.runner")
    assert _deferred_on_purpose("cli/app.py", "engine.modes.run")
    assert not _deferred_on_purpose("cli/main.py", "engine.cli.app")
    assert _deferred_on_purpose("steps/kubectl.py", "engine.backends.kube.ops")
    assert not _deferred_on_purpose("steps/shell.py", "engine.backends.kube.ops")
    text = "os._exit(0)\ndata = os.environ._data\n"
    assert [w for p, w in FORBIDDEN.items() if re.search(p, text)] == [
        "the bytes dict behind os.environ",
        "an exit that skips Python's shutdown",
    ]
