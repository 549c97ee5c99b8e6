"""A playbook for tabletop tests whose every step, undo, probe and drill would leave a
trace if anything ran: a marker file, a request to a loopback server that records hits,
a secret from the environment (a canary that must appear nowhere)."""

from __future__ import annotations

from pathlib import Path

CANARY = "tabletop-canary-s3cr3t"
STEP_IDS = ("drain", "call", "purge")

PLAYBOOK = """\
apiVersion: runbook/v1
kind: Playbook
metadata: {{name: tabletop-test, version: 1.0.0, maturity: 2, owner: tests}}
inputs:
  host: {{type: string, default: db1}}
secrets:
  token: {{env: TABLETOP_TOKEN}}
sli:
  probe: {{http: {{url: "{origin}/health", expect_status: [200]}}}}
  samples: 1
steps:
  - id: drain
    title: Drain the host
    description: Take the host out of the load balancer pool.
    confirm: Drain {{{{ inputs.host }}}}?
    shell:
      run: ["sh", "-c", "touch {markers}/drain"]
      env: {{TOKEN: "{{{{ secrets.token }}}}"}}
    undo:
      shell: {{run: ["sh", "-c", "touch {markers}/undo-drain"]}}
  - id: call
    http:
      url: "{origin}/flag"
      method: PUT
      headers: {{Authorization: "Bearer {{{{ secrets.token }}}}"}}
    undo:
      http: {{url: "{origin}/flag", method: DELETE}}
  - id: purge
    when: "inputs.host == 'db1'"
    irreversible: the files are gone for good
    shell: {{run: ["sh", "-c", "touch {markers}/purge"]}}
drill:
  inject:
    - id: break
      shell: {{run: ["sh", "-c", "touch {markers}/inject"]}}
      undo:
        shell: {{run: ["sh", "-c", "touch {markers}/revert"]}}
  detect_within: 10s
"""

ANSWERS = """\
participants: [ana, bo]
steps:
  drain: {answer: would_do, note: we do this weekly}
  call:
    answer: unclear
    gap: unclear_instruction
    note: which flag?
  purge: {answer: blocked, gap: missing_permission, note: no sudo on db hosts}
findings: |
  nobody knew who owns db1
"""


def tabletop_playbook(folder: Path, origin: str) -> tuple[Path, Path]:
    """The playbook (in `folder`) and the folder its commands would leave markers in."""
    markers = folder / "markers"
    markers.mkdir(exist_ok=True)
    path = folder / "tabletop.yaml"
    path.write_text(PLAYBOOK.format(origin=origin, markers=markers), encoding="utf-8")
    return path, markers


def answers_file(folder: Path, text: str = ANSWERS) -> Path:
    path = folder / "answers.yaml"
    path.write_text(text, encoding="utf-8")
    return path
