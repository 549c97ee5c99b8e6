"""What `runbook serve` exposes on `/metrics` (Prometheus text format).

Labels carry only closed sets (HTTP codes, decisions, outcomes): never an alert's
labels, a playbook input or anything a request sent.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

# Seconds; the commit before the reply is about a millisecond on a local disk.
_COMMIT_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


class ServeMetrics:
    """One server's metrics, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "runbook_webhook_requests",
            "Webhook requests answered, by HTTP status code.",
            ["code"],
            registry=self.registry,
        )
        self.alerts = Counter(
            "runbook_alerts_received",
            "Alerts in accepted notifications, by their status (firing, resolved).",
            ["status"],
            registry=self.registry,
        )
        self.decisions = Counter(
            "runbook_trigger_decisions",
            "Decisions on alerts: run, proposed, suggested, or why nothing ran.",
            ["decision"],
            registry=self.registry,
        )
        self.runs = Counter(
            "runbook_hook_runs_finished",
            "Runs started by alerts that ended, by outcome.",
            ["outcome"],
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "runbook_hook_runs_in_flight",
            "Runs started by alerts, running now.",
            registry=self.registry,
        )
        self.queued = Gauge(
            "runbook_hook_runs_queued",
            "Runs decided and waiting for a free slot.",
            registry=self.registry,
        )
        self.pending = Gauge(
            "runbook_inbox_pending",
            "Accepted alerts not decided on yet.",
            registry=self.registry,
        )
        self.invalid_playbooks = Gauge(
            "runbook_playbooks_invalid",
            "Playbook files in the served folder that are not valid (left out).",
            registry=self.registry,
        )
        self.commit_seconds = Histogram(
            "runbook_notification_commit_seconds",
            "Time to commit an accepted notification to the ledger, before the reply.",
            buckets=_COMMIT_BUCKETS,
            registry=self.registry,
        )

    def exposition(self) -> bytes:
        """The metrics in Prometheus' text format."""
        return generate_latest(self.registry)
