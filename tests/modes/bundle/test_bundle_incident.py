"""The bundle of a run that belongs to an incident: the manifest names the incident and
its lifecycle times with their source; a run outside any says so (`incident: null`)."""

from __future__ import annotations

from pathlib import Path

from bundle_helpers import manifest
from sli_helpers import run_cli, run_id_of

PLAYBOOK = """\
apiVersion: runbook/v1
kind: Playbook
metadata: {name: bundle-incident, version: 1.0.0, maturity: 2, owner: tests}
steps:
  - id: touch
    readonly: true
    shell: {run: ['true']}
"""


def test_the_manifest_names_the_incident_of_the_run_and_its_times(tmp_path: Path) -> None:
    path = tmp_path / "touch.yaml"
    path.write_text(PLAYBOOK)
    incident_id = run_cli("incident", "open", "--title", "checkout errors").stdout.split()[-1]
    member = run_id_of(run_cli("run", str(path), "--yes", "--incident", incident_id).stdout)
    set_ = run_cli("incident", "set", incident_id, "--impact-started", "2026-01-01T00:00:00Z")
    assert set_.returncode == 0, set_.stderr
    alone = run_id_of(run_cli("run", str(path), "--yes").stdout)
    bundles = {run_id: tmp_path / f"{run_id}.tar.gz" for run_id in (member, alone)}
    for run_id, bundle in bundles.items():
        done = run_cli("export", run_id, "-o", str(bundle))
        assert done.returncode == 0, done.stderr

    told = manifest(bundles[member])["incident"]
    replayed = run_cli("replay", str(bundles[member]))

    assert told["incident_id"] == incident_id and told["title"] == "checkout errors"
    assert told["runs"] == [member] and told["status"] == "open"
    assert told["times"]["impact_started"] == {"at": "2026-01-01T00:00:00.000Z", "source": "human"}
    assert told["times"]["response_started"]["source"] == "record"
    assert told["times"]["resolved"] == {"at": None, "source": None}
    assert manifest(bundles[alone])["incident"] is None
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
