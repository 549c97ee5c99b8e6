"""The secrets the undos of some steps read, found in their templates: a rollback needs
those and no other (`engine.playbook.secret_uses`)."""

from __future__ import annotations

from pathlib import Path

from engine.playbook.loader import load_playbook
from engine.playbook.secret_uses import secrets_read_by_undos

PLAYBOOK = """\
apiVersion: runbook/v1
kind: Playbook
metadata: {name: secret-uses, version: 1.0.0, maturity: 2, owner: tests}
inputs:
  which: {type: string, default: c}
secrets:
  c: {env: C}
  b: {env: B}
  a: {env: A}
steps:
  - id: plain
    shell: {run: "true", env: {B: "{{ secrets.b }}"}}
    undo: {shell: {run: "true", env: {A: "{{ secrets.a }}", C: "{{ secrets['c'] | trim }}"}}}
  - id: computed
    shell: {run: "true"}
    undo: {shell: {run: "true", env: {X: "{{ secrets[inputs.which] }}"}}}
  - id: no_undo
    shell: {run: "true", env: {B: "{{ secrets.b }}"}}
    irreversible: it only reads
"""


def test_an_undo_reads_the_secrets_its_templates_name_in_declared_order(tmp_path: Path) -> None:
    book = load_playbook(str(tmp_path / "secret-uses.yaml"), text=PLAYBOOK)
    plain, computed, no_undo = book.steps

    assert secrets_read_by_undos(book, [plain]) == ["c", "a"]  # not `b`: the step reads it
    assert secrets_read_by_undos(book, [computed]) == ["c", "b", "a"]  # any, by its name
    assert secrets_read_by_undos(book, [no_undo]) == []
    assert secrets_read_by_undos(book, []) == []


SELF_UNDOING = """\
apiVersion: runbook/v1
kind: Playbook
metadata: {name: secret-uses-kube, version: 1.0.0, maturity: 2, owner: tests}
secrets:
  other: {env: OTHER}
  context: {env: CONTEXT}
  owner: {env: OWNER}
kubernetes:
  context: "{{ secrets.context }}"
steps:
  - id: mark
    kubectl:
      action: label
      namespace: default
      kind: Deployment
      name: web
      labels: {owner: "{{ secrets.owner }}"}
"""


def test_a_step_that_undoes_itself_reads_its_own_templates_and_the_shared_block(
    tmp_path: Path,
) -> None:
    book = load_playbook(str(tmp_path / "secret-uses-kube.yaml"), text=SELF_UNDOING)

    assert secrets_read_by_undos(book, book.steps) == ["context", "owner"]
