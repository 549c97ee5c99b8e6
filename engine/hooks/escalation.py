"""Telling a human when a run an alert started cannot help.

A run that was refused, failed, did not recover, could not roll back or was cut by a
crash, and an alert the guards held back for flapping or an exhausted budget, are
escalated: a short summary (what, where, the last step and error, what was spent, what
to run next) goes to the playbook's `escalation:`, else the serve config's — a webhook
(JSON POST) and/or a command (the JSON on its stdin). Each escalation is recorded before
it is sent and marked sent or failed after, so a server that stops sends what it had
not when it starts again. The summary is built from the ledger, whose records are
already redacted, and from the alert's labels: never from a secret.
"""

from __future__ import annotations

import json
import logging
import subprocess
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.core.durations import format_seconds
from engine.core.errors import EngineError
from engine.hooks.auth import read_secret_line
from engine.hooks.payload import AlertPayload
from engine.ledger import Ledger
from engine.ledger.inbox import PENDING, Decision, TriggerRow
from engine.model.guards import Escalation

if TYPE_CHECKING:
    import urllib3

log = logging.getLogger("runbook.serve")

WEBHOOK_CONNECT_SECONDS = 3.0
WEBHOOK_READ_SECONDS = 10.0
WEBHOOK_RETRIES = 3  # on a connection error or a 5xx, half a second apart and doubling
COMMAND_TIMEOUT_SECONDS = 30.0
NO_DESTINATION = "no escalation declared (the playbook's `escalation:` or the serve config's)"


class Escalator:
    """Records escalations and sends them, one at a time, off the deciding thread."""

    def __init__(self, ledger: Ledger, default: Escalation | None) -> None:
        self.ledger = ledger
        self.default = default
        self._http: urllib3.PoolManager | None = None  # made at the first webhook
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="runbook-escalate")

    def resume(self) -> None:
        """Send what a previous server recorded and did not send."""
        for row in self.ledger.escalations(status=PENDING, limit=1000):
            self.pool.submit(self._send, row.escalation_id, row.body, row.destination)

    def stop(self) -> None:
        self.pool.shutdown(wait=True)

    def escalate(
        self,
        reason: str,
        body: Mapping[str, Any],
        own: Escalation | None,
        base_dir: Path | None,
        about: tuple[str | None, str | None, str | None],
    ) -> None:
        """Record an escalation and send it (`about`: trigger, run, playbook)."""
        destination = _destination(own or self.default, base_dir if own else None)
        escalation_id = self.ledger.add_escalation(reason, body, destination, about)
        log.warning("escalation %s: %s", escalation_id, body.get("summary", reason))
        self.pool.submit(self._send, escalation_id, dict(body), destination)

    def _send(
        self, escalation_id: str, body: Mapping[str, Any], destination: Mapping[str, Any]
    ) -> None:
        try:
            ok, detail = self._deliver(body, destination)
        except Exception as exc:  # a bug must not lose the record
            log.exception("escalation %s could not be sent", escalation_id)
            ok, detail = False, f"internal error: {type(exc).__name__}"
        try:
            self.ledger.escalation_done(escalation_id, ok, detail)
        except EngineError as exc:
            log.error("escalation %s: cannot record how it went: %s", escalation_id, exc.message)
        if not ok:
            log.error("escalation %s not delivered: %s", escalation_id, detail)

    def _deliver(self, body: Mapping[str, Any], destination: Mapping[str, Any]) -> tuple[bool, str]:
        if not destination:
            return (
                False,
                "no escalation declared (the playbook's `escalation:` or the serve config's)",
            )
        data = json.dumps(body, indent=2).encode()
        results = []
        if "webhook" in destination:
            results.append(self._post(destination["webhook"], data))
        if "command" in destination:
            results.append(_command(destination["command"], data))
        return all(ok for ok, _ in results), "; ".join(detail for _, detail in results)

    def _post(self, webhook: Mapping[str, Any], data: bytes) -> tuple[bool, str]:
        headers = {"Content-Type": "application/json", "User-Agent": "runbook-engine"}
        if webhook.get("token_file"):
            try:
                token = read_secret_line(webhook["token_file"], "escalation token_file")
            except EngineError as exc:
                return False, exc.message
            headers["Authorization"] = f"Bearer {token.decode()}"
        import urllib3  # only a server that escalates to a webhook needs it

        try:
            # a redirect is not followed: a redirected POST would drop or resend the
            # summary elsewhere, so it counts as not delivered (3xx)
            reply = self._client().request(
                "POST", webhook["url"], body=data, headers=headers, redirect=False
            )
        except urllib3.exceptions.HTTPError as exc:
            return False, f"webhook {webhook['url']}: {type(exc).__name__}"
        if 200 <= reply.status < 300:
            return True, f"webhook {webhook['url']}: {reply.status}"
        return False, f"webhook {webhook['url']}: HTTP {reply.status}"

    def _client(self) -> urllib3.PoolManager:
        """The webhook client, made at the first webhook (called on the sending thread)."""
        import urllib3

        if self._http is None:
            retries = urllib3.Retry(
                total=WEBHOOK_RETRIES,
                backoff_factor=0.5,
                status_forcelist=(500, 502, 503, 504),
                allowed_methods=None,
            )
            timeout = urllib3.Timeout(connect=WEBHOOK_CONNECT_SECONDS, read=WEBHOOK_READ_SECONDS)
            self._http = urllib3.PoolManager(retries=retries, timeout=timeout)
        return self._http


def _command(argv: list[str], data: bytes) -> tuple[bool, str]:
    try:
        done = subprocess.run(
            argv,
            input=data,
            capture_output=True,
            timeout=COMMAND_TIMEOUT_SECONDS,
            check=False,
            start_new_session=True,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"command {argv[0]}: {type(exc).__name__}: {exc}"
    if done.returncode == 0:
        return True, f"command {argv[0]}: exit 0"
    tail = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
    return False, f"command {argv[0]}: exit {done.returncode} {tail[0]}".rstrip()


def _destination(escalation: Escalation | None, base_dir: Path | None) -> dict[str, Any]:
    """Where to send, as recorded (a playbook's token file resolved beside it)."""
    if escalation is None:
        return {}
    found: dict[str, Any] = {}
    if escalation.webhook is not None:
        token_file = escalation.webhook.token_file
        if token_file and base_dir is not None:
            token_file = str(base_dir / Path(token_file).expanduser())
        found["webhook"] = {"url": escalation.webhook.url, "token_file": token_file}
    if escalation.command:
        found["command"] = list(escalation.command)
    return found


def _name(alert: AlertPayload) -> str:
    return alert.labels.get("alertname", "")


def alert_facts(alert: AlertPayload) -> dict[str, Any]:
    """What an escalation says of the alert."""
    return {
        "alertname": alert.labels.get("alertname", ""),
        "fingerprint": alert.fingerprint,
        "startsAt": alert.startsAt,
        "labels": dict(alert.labels),
        "generatorURL": alert.generatorURL,
    }


def held_back_summary(decision: Decision, trigger_id: str, alert: AlertPayload) -> dict[str, Any]:
    """The summary of an alert the guards held back (flapping, budget exhausted)."""
    name = alert.labels.get("alertname", "")
    return {
        "kind": "runbook-escalation",
        "reason": decision.decision,
        "summary": f"{decision.playbook} did not run for {name}: {decision.reason}",
        "playbook": decision.playbook,
        "version": decision.version,
        "trigger_id": trigger_id,
        "run_id": None,
        "targets": list(decision.targets),
        "alert": alert_facts(alert),
        "next": "runbook triggers; runbook show RUN_ID for the earlier runs",
    }


def not_started_summary(trigger: TriggerRow, alert: AlertPayload) -> dict[str, Any]:
    """The summary of a run an alert asked for that could not start."""
    return {
        "kind": "runbook-escalation",
        "reason": "not_started",
        "summary": f"{trigger.playbook} did not start for {_name(alert)}: {trigger.reason}",
        "playbook": trigger.playbook,
        "version": trigger.version,
        "trigger_id": trigger.trigger_id,
        "run_id": None,
        "targets": trigger.targets,
        "alert": alert_facts(alert),
        "next": "runbook triggers",
    }


def run_summary(
    ledger: Ledger, run_id: str, trigger_id: str, alert: AlertPayload
) -> dict[str, Any]:
    """The summary of a run that ended badly, from its (redacted) record."""
    run = ledger.get_run(run_id)
    events = ledger.events(run_id)
    steps = [e for e in events if e.kind == "step_result"]
    undos = [e for e in events if e.kind == "undo_result"]
    failed = [e for e in [*steps, *undos] if e.data.get("status") not in ("succeeded", "skipped")]
    last = failed[-1] if failed else (steps[-1] if steps else None)
    took = (run.finished_at or run.started_at) - run.started_at
    message = str(run.summary.get("message", ""))
    return {
        "kind": "runbook-escalation",
        "reason": run.status,
        "summary": f"{run.playbook} {run.status} for {_name(alert)}: {message}",
        "playbook": run.playbook,
        "version": run.version,
        "trigger_id": trigger_id,
        "run_id": run_id,
        "outcome": run.status,
        "alert": alert_facts(alert),
        "last_step": last.step_id if last else None,
        "last_error": str(last.data.get("message", "")) if last and failed else None,
        "spent": {
            "seconds": round(took, 3),
            "took": format_seconds(took),
            "steps_run": len(steps),
            "undos_run": len(undos),
        },
        "next": f"runbook show {run_id}",
    }
