"""`runbook tabletop` on the command line: refused without a terminal unless the answers
come from a file; `runbook show` tells it; the maturity board counts it; toil does not."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kube_fixtures import CountingRelay, KubeCluster
from run_fixtures import current_env, run_env, runbook  # noqa: F401  (autouse fixture)
from sshd_fixtures import SshServer
from tabletop_helpers import ANSWERS, answers_file, tabletop_playbook

CLEAN = ANSWERS.replace(
    "purge: {answer: blocked, gap: missing_permission, note: no sudo on db hosts}",
    "purge: {answer: would_do}",
)


def _playbook() -> Path:
    path, _markers = tabletop_playbook(current_env().work, "http://127.0.0.1:9")
    return path


def _tabletop_json(path: Path, answers: str = ANSWERS) -> dict[str, Any]:
    answers_at = answers_file(current_env().work, answers)
    done = runbook("tabletop", str(path), "--answers", str(answers_at), "--output", "json")
    assert done.returncode == 0, done.stderr
    document: dict[str, Any] = json.loads(done.stdout)
    return document


def _board(path: Path, *args: str) -> dict[str, Any]:
    shown = runbook("maturity", str(path), "--output", "json", *args)
    assert shown.returncode == 0, shown.stderr
    (entry,) = json.loads(shown.stdout)
    return dict(entry)


def test_without_a_terminal_it_is_refused_and_nothing_is_recorded() -> None:
    done = runbook("tabletop", str(_playbook()))

    assert done.returncode == 2
    assert "asks its questions at a terminal, and there is none" in done.stderr
    assert "--answers FILE" in done.stderr
    assert "Traceback" not in done.stderr
    assert not current_env().ledger.exists()


def test_a_report_that_cannot_be_written_is_refused_before_anything_is_recorded() -> None:
    folder = current_env().work
    answers = answers_file(folder)
    report = folder / "no-such-folder" / "tabletop.md"

    done = runbook("tabletop", str(_playbook()), "--answers", str(answers), "--report", str(report))

    assert done.returncode == 2
    assert f"--report {report}: cannot write in" in done.stderr
    assert not current_env().ledger.exists()


def test_the_json_report_and_runbook_show_tell_the_answers_and_gaps() -> None:
    document = _tabletop_json(_playbook())

    assert document["status"] == "completed"
    assert document["participants"] == ["ana", "bo"]
    assert document["gaps"] == {"missing_permission": ["purge"], "unclear_instruction": ["call"]}
    purge = document["steps"][2]
    assert (purge["answer"], purge["gap"], purge["note"]) == (
        "blocked",
        "missing_permission",
        "no sudo on db hosts",
    )
    assert purge["plan"]["undo"] == "irreversible: the files are gone for good"
    assert document["findings"] == "nobody knew who owns db1"

    shown = runbook("show", document["run_id"])
    assert shown.returncode == 0, shown.stderr
    assert "(tabletop) — completed" in shown.stdout
    assert "tabletop_participants: tabletop walk-through with ana, bo" in shown.stdout
    assert "tabletop_answer purge: blocked (gap: missing permission) — no sudo on db hosts" in (
        shown.stdout
    )
    assert "findings: nobody knew who owns db1" in shown.stdout


def test_the_board_shows_the_tabletops_and_the_open_gaps_of_the_last() -> None:
    path = _playbook()
    before = _board(path)
    blocked = _tabletop_json(path)["run_id"]

    entry = _board(path)

    assert entry["tabletops"] == {
        "window": "within 30d",
        "count": 1,
        "clean": 0,
        "last": blocked,
        "open_gaps": ["unclear instruction at call", "missing permission at purge"],
        "not_counted": 0,
    }
    assert [row["kind"] for row in entry["evidence"]] == ["tabletop"]
    assert entry["rules"] == before["rules"]  # the default policy asks for none
    text = runbook("maturity", str(path)).stdout
    assert (
        f"tabletops within 30d: 1 (0 clean); last {blocked}, its open gaps: unclear instruction"
    ) in text


def test_after_a_demotion_the_board_counts_only_the_tabletops_since() -> None:
    path = _playbook()
    policy = current_env().work / "policy.yaml"
    policy.write_text("to_2:\n  tabletops: 1\n")
    _tabletop_json(path, CLEAN)
    demoted = runbook("demote", str(path), "--to", "1", "--reason", "steps out of date")
    assert demoted.returncode == 0, demoted.stdout + demoted.stderr

    entry = _board(path, "--policy", str(policy))

    change = entry["changes"][-1]["change_id"]
    (rule,) = [r for r in entry["rules"] if r["rule"] == "tabletops"]
    assert (rule["status"], rule["rows"]) == ("missing", [])
    assert entry["tabletops"] == {
        "window": f"since demotion {change}",
        "count": 0,
        "clean": 0,
        "last": None,
        "open_gaps": [],
        "not_counted": 1,
    }
    text = runbook("maturity", str(path), "--policy", str(policy)).stdout
    assert f"tabletops since demotion {change}: 0 (0 clean); 1 before, not counted" in text

    since = _tabletop_json(path, CLEAN)["run_id"]
    entry = _board(path, "--policy", str(policy))
    (rule,) = [r for r in entry["rules"] if r["rule"] == "tabletops"]
    assert (rule["status"], rule["rows"]) == ("met", [since])
    assert (entry["tabletops"]["count"], entry["tabletops"]["last"]) == (1, since)


def test_a_policy_that_asks_for_a_tabletop_counts_only_one_without_a_blocked_step() -> None:
    path = _playbook()
    policy = current_env().work / "policy.yaml"
    policy.write_text("to_3:\n  tabletops: 1\n")
    _tabletop_json(path)

    (rule,) = [
        r for r in _board(path, "--policy", str(policy))["rules"] if r["rule"] == "tabletops"
    ]
    assert (rule["status"], rule["found"], rule["rows"]) == ("missing", 0, [])

    clean = _tabletop_json(path, CLEAN)["run_id"]
    entry = _board(path, "--policy", str(policy))
    (rule,) = [r for r in entry["rules"] if r["rule"] == "tabletops"]
    assert (rule["status"], rule["rows"]) == ("met", [clean])
    assert entry["tabletops"]["open_gaps"] == ["unclear instruction at call"]


def test_a_negative_tabletop_count_in_the_policy_is_refused_at_its_line() -> None:
    policy = current_env().work / "policy.yaml"
    policy.write_text("to_2:\n  tabletops: -1\n")

    done = runbook("maturity", str(_playbook()), "--policy", str(policy))

    assert done.returncode == 2
    assert f"{policy}:2:14: to_2.tabletops: expected a count, 0 or more" in done.stderr


def test_a_tabletop_is_neither_toil_nor_a_supervised_run() -> None:
    path = _playbook()
    _tabletop_json(path)

    toil = json.loads(runbook("toil", "--output", "json").stdout)
    entry = _board(path)

    assert toil["totals"]["toil_runs"] == 0
    assert toil["totals"]["human_seconds"] == 0
    assert not [row for row in entry["evidence"] if row["kind"] != "tabletop"]


def test_a_changed_file_under_its_recorded_version_is_refused_before_any_question() -> None:
    path = _playbook()
    _tabletop_json(path)
    path.write_text(path.read_text().replace("the files are gone for good", "gone"))

    done = runbook("tabletop", str(path), "--answers", str(answers_file(current_env().work)))

    assert done.returncode == 2
    assert "version 1.0.0 of tabletop-test was recorded with other content" in done.stderr
    assert len(json.loads(runbook("runs", "--output", "json").stdout)) == 1


SSH_PLAYBOOK = """\
apiVersion: runbook/v1
kind: Playbook
metadata: {name: tabletop-ssh, version: 1.0.0, maturity: 2, owner: tests}
steps:
  - id: look
    readonly: true
    ssh: {host: box, run: ["true"]}
  - id: restart
    ssh: {host: box, run: ["touch", "restarted"], env: {TOKEN: "{{ secrets.token }}"}}
    irreversible: a restart cannot be taken back
secrets:
  token: {env: TABLETOP_TOKEN}
"""

KUBE_PLAYBOOK = """\
apiVersion: runbook/v1
kind: Playbook
metadata: {name: tabletop-kube, version: 1.0.0, maturity: 2, owner: tests}
kubernetes:
  context: kcp
steps:
  - id: scale_down
    kubectl: {action: scale, namespace: default, kind: Deployment, name: web, replicas: 0}
    timeout: 30s
"""


def _connections(sshd: SshServer) -> int:
    """The TCP connections sshd accepted so far (its log, at LogLevel VERBOSE)."""
    return sshd.log_text().count("Connection from ")


def _wait_for(check: Callable[[], bool], timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while not check() and time.monotonic() < deadline:
        time.sleep(0.05)
    return check()


def test_a_tabletop_of_ssh_steps_makes_no_connection_to_their_host(sshd: SshServer) -> None:
    work = current_env().work
    sshd.inventory(work / "inventory.yaml")  # beside the playbook: where a run finds it
    path = work / "ssh.yaml"
    path.write_text(SSH_PLAYBOOK)
    answers = answers_file(
        work, "participants: [ana]\nsteps: {look: would_do, restart: would_do}\n"
    )
    connections, logins = _connections(sshd), sshd.logins()

    done = runbook("tabletop", str(path), "--answers", str(answers), "--output", "json")

    assert done.returncode == 0, done.stderr
    restart = json.loads(done.stdout)["steps"][1]
    assert restart["details"] == {"env": "TOKEN=«secret:token»"}
    time.sleep(0.5)  # what sshd logs of a connection comes within milliseconds
    assert (_connections(sshd), sshd.logins()) == (connections, logins)
    # the control: a probe of the read-only step does connect, and the log shows it
    probed = runbook("plan", str(path), "--probe", extra_env={"TABLETOP_TOKEN": "t"})
    assert probed.returncode == 0, probed.stdout + probed.stderr
    assert _wait_for(lambda: _connections(sshd) > connections and sshd.logins() > logins)


def test_a_tabletop_of_a_kubernetes_step_sends_no_request_to_the_api_server(
    kube_cluster: KubeCluster, counting_relay: CountingRelay
) -> None:
    work = current_env().work
    kubeconfig = counting_relay.kubeconfig_through(kube_cluster, work / "kubeconfig")
    path = work / "kube.yaml"
    path.write_text(KUBE_PLAYBOOK)
    answers = answers_file(work, "participants: [ana]\nsteps: {scale_down: would_do}\n")
    env = {"KUBECONFIG": str(kubeconfig)}

    done = runbook("tabletop", str(path), "--answers", str(answers), extra_env=env)

    assert done.returncode == 0, done.stderr
    assert "1 step(s) walked through" in done.stdout
    assert counting_relay.connections == 0
    # the control: the plan's server-side dry-run goes through the relay
    planned = runbook("plan", str(path), extra_env=env, timeout=120)
    assert planned.returncode == 0, planned.stdout + planned.stderr
    assert counting_relay.connections >= 1
