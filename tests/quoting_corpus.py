"""Hostile values for commands, shared by the local and the SSH quoting tests.

Each payload tries to run `touch MARKER` (MARKER is replaced by an absolute path that
must never appear) or to change the command some other way: quotes of every kind,
substitutions, separators, newlines, `${IFS}`, globs, here-document terminators,
control characters, Jinja syntax, unicode look-alikes. None starts with '-': those are
refused (`DASHED`).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import yaml

PAYLOADS = [
    "; touch MARKER",
    "$(touch MARKER)",
    "`touch MARKER`",
    "x\ntouch MARKER",
    "x && touch MARKER",
    "x || touch MARKER",
    "x | touch MARKER",
    "x & touch MARKER",
    "' ; touch MARKER ; '",
    '" ; touch MARKER ; "',
    "\"'$(touch MARKER)'\"",
    "'\"$(touch MARKER)\"'",
    '\\"; touch MARKER; \\"',
    "\\'; touch MARKER; \\'",
    ";${IFS}touch${IFS}MARKER",
    "$(IFS=_;c=touch_MARKER;$c)",
    "${x:-$(touch MARKER)}",
    "$'\\x3b' touch MARKER",
    "a[$(touch MARKER)]",
    "<(touch MARKER)",
    ">MARKER",
    "2>MARKER",
    ";touch MARKER;#",
    "# ; touch MARKER",
    " ; touch MARKER # ",
    "a=1 touch MARKER",
    "}; touch MARKER; {",
    '"}"; touch MARKER',
    "EOF\ntouch MARKER\nEOF",
    "'EOF'\ntouch MARKER\n'EOF'",
    "x\r\ntouch MARKER\r\n",
    "\t; touch MARKER\t",
    "\x1b[31m; touch MARKER\x1b[0m",
    "\x07\x08\x7f; touch MARKER",
    "\x01\x02\x1f$(touch MARKER)",
    "x\\\ntouch MARKER",
    "\\",
    "*",
    "/*/*",
    "?",
    "[a-z]*",
    "~root",
    "{a,b}",
    "$HOME",
    "${PATH}",
    "$((1+1))",
    "!!",
    "!$; touch MARKER",
    "%s%n%x%99999999d",
    "{{ 7*7 }}",
    "{% raw %}; touch MARKER{% endraw %}",
    "{# ; touch MARKER #}",
    "{{ cycler.__init__.__globals__.os.system('touch MARKER') }}",
    "\u2019; touch MARKER; \u2018",
    "\u201c; touch MARKER; \u201d",
    "\uff04(touch MARKER)",
    "x\u2028touch MARKER",
    "x\u0085touch MARKER",
    "caf\u00e9 \u65e5\u672c $(touch MARKER)",
    "",
    "   ",
    "x" * 2000 + "; touch MARKER",
]
DASHED = ["-rf", "--version", "-", "-e touch MARKER", "--help; touch MARKER"]


def payload(template: str, marker: str) -> str:
    return template.replace("MARKER", marker)


def every_payload(playbook: str, folder: Path) -> tuple[Path, list[str]]:
    """`playbook` (whose steps read `inputs.dir` and `inputs.evil`) with its steps
    repeated for every payload: payload N is input `eN` and its steps (ids ending `_N`)
    write into folder/pN/, which is input `dN`. One run tries them all. Returns the
    playbook written into `folder` and the `-i` arguments; payload N's marker is
    folder/MARKER-N."""
    data = yaml.safe_load(Path(playbook).read_text())
    steps, inputs, args = [], {}, []
    for index, template in enumerate(PAYLOADS):
        (folder / f"p{index}").mkdir()
        inputs[f"d{index}"] = data["inputs"]["dir"]
        inputs[f"e{index}"] = data["inputs"]["evil"]
        args += ["-i", f"d{index}={folder}/p{index}"]
        args += ["-i", f"e{index}={payload(template, f'{folder}/MARKER-{index}')}"]
        steps += [_renamed(step, index) for step in data["steps"]]
    data["inputs"], data["steps"] = inputs, steps
    path = folder / "every-payload.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, width=1000))
    return path, args


def _renamed(node: Any, index: int) -> Any:
    if isinstance(node, str):
        return node.replace("inputs.dir", f"inputs.d{index}").replace(
            "inputs.evil", f"inputs.e{index}"
        )
    if isinstance(node, list):
        return [_renamed(item, index) for item in node]
    if isinstance(node, dict):
        renamed = {key: _renamed(value, index) for key, value in node.items()}
        if "id" in renamed:
            renamed["id"] = f"{renamed['id']}_{index}"
        return renamed
    return node


# The script of the `self` step of playbooks/{run,ssh}/quoting.yaml as its shell gets it,
# whatever the value: the value is never written into it.
SELF_SCRIPT = """\
cat /proc/$$/cmdline > "${RUNBOOK_V1}"/self.argv
env -0 > "${RUNBOOK_V2}/self.env" # "${RUNBOOK_V3}"
printf '%s' "${RUNBOOK_V4}" > /dev/null
"""
_VALUE_NAME = re.compile(r"^RUNBOOK_V([0-9]+)$")


def shown_by_the_shell(folder: Path) -> str:
    """The command as `plan` shows it, rebuilt from what the `self` step's shell got (its
    `self.argv` and `self.env` in `folder`): its values as NAME=value lines, shell-quoted,
    then its script."""
    argv = (folder / "self.argv").read_bytes().decode().split("\0")
    assert argv[:2] == ["/bin/sh", "-c"]
    items = (folder / "self.env").read_bytes().decode().split("\0")
    env = dict(item.split("=", 1) for item in items if item)
    names = sorted((n for n in env if _VALUE_NAME.match(n)), key=lambda n: int(n[9:]))
    return "\n".join([*(f"{name}={shlex.quote(env[name])}" for name in names), argv[2]])
