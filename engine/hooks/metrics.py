"""What `runbook serve` exposes on `/metrics` (Prometheus text format).

Labels carry only closed sets (HTTP codes, decisions, outcomes, step statuses) and the
names of the served playbooks (as many as the folder holds): never an alert's labels, a
playbook input or anything a request sent.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from engine.core.events import Event, EventKind
from engine.core.results import Status

# Seconds; the commit before the reply is about a millisecond on a local disk.
_COMMIT_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
# A step: from a fraction of a second to its timeout (minutes).
_STEP_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
# Alert accepted to first step started: milliseconds when a slot is free, more in a queue.
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
STALE = "stale"  # a run queued longer than queue.max_age: not started
_STATUSES = frozenset(status.value for status in Status)


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
            "Runs started by alerts that ended, by playbook and outcome.",
            ["playbook", "outcome"],
            registry=self.registry,
        )
        self.suppressed = Counter(
            "runbook_triggers_suppressed",
            "Alerts that started no run, by reason: the decision (duplicate, resolved,"
            " no_match, bad_input, refused, busy, cooldown, budget_exhausted, flapping),"
            " or a decided run that did not start (stale, not_started).",
            ["reason"],
            registry=self.registry,
        )
        self.steps = Counter(
            "runbook_hook_steps",
            "Steps of runs started by alerts that ended, by playbook and status"
            " (succeeded, failed, timed_out, unknown, skipped): the tool-failure rate.",
            ["playbook", "status"],
            registry=self.registry,
        )
        self.step_seconds = Histogram(
            "runbook_hook_step_seconds",
            "How long each step of a run started by an alert took, by playbook.",
            ["playbook"],
            buckets=_STEP_BUCKETS,
            registry=self.registry,
        )
        self.retries = Counter(
            "runbook_hook_step_retries",
            "Step attempts that failed and were tried again, by playbook.",
            ["playbook"],
            registry=self.registry,
        )
        self.first_step = Histogram(
            "runbook_alert_to_first_step_seconds",
            "From an alert's notification accepted to its run's first step starting.",
            buckets=_LATENCY_BUCKETS,
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
            "Accepted alerts not decided on yet (the inbox's depth).",
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


class RunMetrics:
    """A run's listener: counts its steps, their time and retries under its playbook's
    name, and the time from its alert's acceptance to its first step."""

    def __init__(self, metrics: ServeMetrics, playbook: str, received_at: float | None) -> None:
        self.metrics = metrics
        self.playbook = playbook
        self.received_at = received_at  # None: not measured (queued again after a restart)

    def __call__(self, event: Event) -> None:
        if event.kind == EventKind.STEP_INTENT and self.received_at is not None:
            self.metrics.first_step.observe(max(0.0, event.ts - self.received_at))
            self.received_at = None
        elif event.kind == EventKind.STEP_RESULT:
            status = str(event.data.get("status", ""))
            status = status if status in _STATUSES else Status.UNKNOWN.value
            self.metrics.steps.labels(self.playbook, status).inc()
            duration = event.data.get("duration")
            if isinstance(duration, int | float):
                self.metrics.step_seconds.labels(self.playbook).observe(duration)
        elif event.kind == EventKind.STEP_RETRY:
            self.metrics.retries.labels(self.playbook).inc()
