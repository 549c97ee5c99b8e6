"""From the inbox to runs: decide on each accepted alert, then run what level 3 allows.

One thread takes the accepted alerts in the order they arrived and records a decision
for each (`engine/hooks/decide.py`); a pool of `concurrency` threads runs the queued
runs, each an ordinary ledger run of mode `hook`. Every step is in the ledger first:
a server that stops at any moment finds, when it starts again, the alerts it had not
decided on still pending and the runs it had not started still queued; a run it had
started is `interrupted` (the ledger marks it when it opens) and is left to `runbook
recover` or `runbook rollback`, never started again. A queued run decided longer ago
than `queue.max_age` does not start (stale: its alert may be long over) and is escalated.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from msgspec import Struct

from engine.backends.local.containment import kill_leftovers
from engine.core.errors import EngineError, UsageError
from engine.hooks.binding import alert_namespace
from engine.hooks.catalog import Catalog
from engine.hooks.config import ServeConfig
from engine.hooks.decide import decisions_for, input_arguments
from engine.hooks.escalation import (
    Escalator,
    held_back_summary,
    not_started_summary,
    run_summary,
)
from engine.hooks.guards import Guarded, GuardPolicy, policy_for
from engine.hooks.metrics import STALE, RunMetrics, ServeMetrics
from engine.hooks.payload import AlertPayload, Notification, PayloadError, decode_notification
from engine.hooks.retention import PayloadRetention
from engine.ledger import Ledger
from engine.ledger.evidence import MaturityChange
from engine.ledger.inbox import (
    ACTING,
    BUDGET_EXHAUSTED,
    FLAPPING,
    NOT_STARTED,
    REFUSED,
    RESOLVED,
    RUN,
    Decision,
    InboxAlert,
    Pending,
    TriggerRow,
)
from engine.model.playbook import Playbook
from engine.modes.maturity.policy import load_policy
from engine.modes.run import make_run
from engine.run.preflight import RunRequest, prepare
from engine.run.runner import Run

log = logging.getLogger("runbook.serve")

# How long the deciding thread sleeps when nothing wakes it: a safety net only, since
# each accepted notification wakes it at once.
IDLE_POLL_SECONDS = 1.0


class _Decided(Struct):
    """One accepted alert, decided on and not recorded yet."""

    pending: Pending
    facts: InboxAlert
    decisions: list[Decision]
    guard: Guarded | None
    alert: AlertPayload | None


class _Queued(Struct, frozen=True):
    """A run decided and waiting for a free slot."""

    trigger_id: str
    decision: Decision
    alert: AlertPayload
    receiver: str
    decided_at: float
    # when its notification was accepted; None for a run queued again after a restart
    # (its wait is the outage: not alert-to-first-step latency)
    received_at: float | None


def _demoted_since(demoted: MaturityChange, file: str) -> str:
    return (
        f"effective level {demoted.to_level} since it was decided: {demoted.reason}"
        f" ({demoted.change_id}); to run it by hand: runbook run {file}"
    )


class Dispatcher:
    """Decides on accepted alerts and runs what level 3 allows, `concurrency` at a time."""

    def __init__(
        self,
        ledger: Ledger,
        catalog: Catalog,
        metrics: ServeMetrics,
        *,
        home: Path | None = None,
        concurrency: int = 4,
        config: ServeConfig | None = None,
    ) -> None:
        self.ledger = ledger
        self.catalog = catalog
        self.metrics = metrics
        self.home = home
        self.config = config or ServeConfig()
        self.ledger.demotion = load_policy(None, home)[0].demotion_rule()
        self.escalator = Escalator(ledger, self.config.escalation)
        self.retention = PayloadRetention(ledger, self.config.retention_seconds)
        self.playbooks: dict[str, Playbook] = {}  # by content hash, as last read
        self.policies: dict[str, GuardPolicy] = {}
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.pool = ThreadPoolExecutor(concurrency, thread_name_prefix="runbook-hook-run")
        self.running: dict[str, Run] = {}
        self._running_lock = threading.Lock()
        self._sweep_lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name="runbook-dispatch", daemon=True)

    # -- lifetime ------------------------------------------------------------------

    def start(self) -> None:
        """Queue again what a previous server left, then start deciding."""
        self.escalator.resume()
        self.sweep_escalations()
        requeued = self.ledger.requeue_unstarted_triggers()
        if requeued:
            log.warning(
                "%d run(s) claimed by a stopped server never started: queued again", requeued
            )
        for trigger in self.ledger.queued_triggers():
            self._queue_from_record(trigger)
        self._thread.start()
        self.retention.start()

    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self, drain_seconds: float) -> None:
        """Stop deciding (at the next alert); let runs in flight finish until
        `drain_seconds` from now, then abort them (each undoes what it did, as at Ctrl-C).
        Runs not started stay queued, alerts not decided on stay pending."""
        deadline = time.monotonic() + drain_seconds
        self.stopping.set()
        self.wake.set()
        self.retention.stop()
        if self._thread.is_alive():
            self._thread.join()
        self.pool.shutdown(wait=False, cancel_futures=True)
        if not self._wait_for_runs(max(0.0, deadline - time.monotonic())):
            for run_id, run in self._in_flight():
                log.warning("aborting run %s: the server is stopping", run_id)
                run.signals.request_abort("server stopping")
        self.pool.shutdown(wait=True)
        self.escalator.stop()

    def sweep_escalations(self) -> None:
        """Escalate each run an alert started that ended as a human must hear of, or
        could not start, and was not escalated yet: after each run, and at start (runs a
        stopped server left `interrupted` are among them: what their steps left running
        is killed first, as `runbook recover` does; they are never started again)."""
        with self._sweep_lock:
            for trigger in self.ledger.unescalated_triggers():
                try:
                    self._escalate_trigger(trigger)
                except (EngineError, PayloadError, IndexError) as exc:
                    log.error("cannot escalate trigger %s: %s", trigger.trigger_id, exc)

    def _escalate_trigger(self, trigger: TriggerRow) -> None:
        alert = self._stored_alert(trigger.notification_id, trigger.position)
        if trigger.state == NOT_STARTED or trigger.run_id is None:
            body = not_started_summary(trigger, alert)
            self._escalate(NOT_STARTED, body, trigger.playbook, trigger.content_hash, trigger)
            return
        body = run_summary(self.ledger, trigger.run_id, trigger.trigger_id, alert)
        if body["outcome"] == "refused" and self._healthy_before(trigger.run_id):
            about = (trigger.trigger_id, trigger.run_id, trigger.playbook)
            why = "the SLI was already healthy when the run began: nothing to fix"
            self.ledger.add_escalation("refused", body, {}, about, not_needed=why)
            return
        if body["outcome"] == "interrupted":
            killed = kill_leftovers(trigger.run_id)
            body["summary"] += (
                f" (the server stopped during the run; killed {killed} leftover processes)"
            )
            body["next"] = f"runbook show {trigger.run_id}; runbook rollback {trigger.run_id}"
        self._escalate(body["outcome"], body, trigger.playbook, trigger.content_hash, trigger)

    def _healthy_before(self, run_id: str) -> bool:
        """Whether the run was refused by a healthy SLI pre-check (the alert is over)."""
        return any(
            e.kind == "sli_sample"
            and e.data.get("phase") == "pre-check"
            and e.data.get("verdict") == "healthy"
            for e in self.ledger.events(run_id)
        )

    def _wait_for_runs(self, seconds: float) -> bool:
        deadline = threading.Event()
        timer = threading.Timer(seconds, deadline.set)
        timer.start()
        try:
            while self._in_flight() and not deadline.is_set():
                deadline.wait(0.05)
        finally:
            timer.cancel()
        return not self._in_flight()

    def _in_flight(self) -> list[tuple[str, Run]]:
        with self._running_lock:
            return list(self.running.items())

    # -- deciding ------------------------------------------------------------------

    def _loop(self) -> None:
        while not self.stopping.is_set():
            self.wake.wait(IDLE_POLL_SECONDS)
            self.wake.clear()
            try:
                self.decide_pending()
            except EngineError as exc:  # the ledger: try again at the next wake
                log.error("cannot decide on accepted alerts: %s", exc.message)
            except Exception:  # a bug must not stop the server from deciding
                log.exception("deciding on accepted alerts failed")

    def decide_pending(self) -> None:
        """Decide on every accepted alert not decided on yet."""
        while not self.stopping.is_set():
            self.metrics.pending.set(self.ledger.pending_count())
            batch = self.ledger.pending_alerts()
            if not batch:
                return
            playbooks = self._playbooks()
            self._decide_batch(batch, playbooks)

    def _playbooks(self) -> list[Playbook]:
        try:
            playbooks = self.catalog.refresh()
        except UsageError as exc:  # the folder was emptied or removed
            log.error("%s", exc.message)
            playbooks = []
        self.playbooks.update((p.content_hash, p) for p in playbooks)
        self.policies = {p.content_hash: policy_for(p.guards, self.config) for p in playbooks}
        broken = self.catalog.invalid_files()
        self.metrics.invalid_playbooks.set(len(broken))
        for file in broken:
            log.error("playbook %s is invalid: left out until it is fixed", file)
        return playbooks

    def _decide_batch(self, batch: list[Pending], playbooks: list[Playbook]) -> None:
        """Decide on a batch of accepted alerts and record it in one transaction (the
        guards see the decisions before theirs); then queue, count and escalate. A
        stopping server decides no further alert (each may take a render budget)."""
        bodies: dict[str, Notification | Exception] = {}
        items: list[_Decided] = []
        for pending in batch:
            if self.stopping.is_set():  # the rest stay pending for the next start
                break
            items.append(self._decide(pending, playbooks, bodies))
        if not items:
            return
        recorded = self.ledger.decide_alerts(
            [(item.pending, item.facts, item.decisions, item.guard) for item in items],
            reopen_within=self.config.reopen_seconds,
        )
        for item, decided in zip(items, recorded, strict=True):
            for trigger_id, decision in decided:
                self._after(item, trigger_id, decision)

    def _decide(
        self,
        pending: Pending,
        playbooks: list[Playbook],
        bodies: dict[str, Notification | Exception],
    ) -> _Decided:
        try:
            alert = self._notification(pending.notification_id, bodies).alerts[pending.position]
        except (PayloadError, IndexError) as exc:
            refused = Decision(REFUSED, f"the stored notification cannot be read: {exc}")
            return _Decided(pending, InboxAlert("", "", "", ""), [refused], None, None)
        facts = InboxAlert(
            alert.fingerprint,
            alert.startsAt,
            alert.status,
            alert.labels.get("alertname", ""),
            labels=alert.labels,
            ends_at=alert.endsAt,
            generator_url=alert.generatorURL,
            summary=alert.annotations.get("summary", ""),
        )
        if alert.status == "resolved":  # the ledger cancels its queued runs and proposals
            decisions = [Decision(RESOLVED, "resolved: a resolved alert never starts a run")]
        else:
            seconds = self.config.proposal_seconds
            decisions = decisions_for(alert, playbooks, seconds, self._demotion)
        guard = Guarded(self.policies, facts.fingerprint)
        return _Decided(pending, facts, decisions, guard, alert)

    def _demotion(self, playbook: Playbook) -> MaturityChange | None:
        meta = playbook.metadata
        return self.ledger.demotion_of(playbook.name, playbook.evidence_hash, meta.maturity)

    def _notification(
        self, notification_id: str, bodies: dict[str, Notification | Exception]
    ) -> Notification:
        """A stored notification, decoded once for all its alerts in a batch."""
        if notification_id not in bodies:
            try:
                bodies[notification_id] = self._stored(notification_id)
            except PayloadError as exc:
                bodies[notification_id] = exc
        found = bodies[notification_id]
        if isinstance(found, Exception):
            raise found
        return found

    def _after(self, item: _Decided, trigger_id: str, decision: Decision) -> None:
        """What a recorded decision sets going: its run, its escalation; its count."""
        self.metrics.decisions.labels(decision.decision).inc()
        if decision.decision not in ACTING:
            self.metrics.suppressed.labels(decision.decision).inc()
        facts, alert = item.facts, item.alert
        log.info(
            "alert %s %s: %s %s (%s)",
            facts.alertname,
            facts.fingerprint,
            decision.decision,
            decision.playbook or "",
            trigger_id,
        )
        if alert is None:
            return
        if decision.decision == RUN:
            pending = item.pending
            self._queue(
                _Queued(
                    trigger_id, decision, alert, pending.receiver, time.time(), pending.received_at
                )
            )
        elif decision.decision in (FLAPPING, BUDGET_EXHAUSTED) and not decision.again:
            body = held_back_summary(decision, trigger_id, alert)
            about = (trigger_id, None, decision.playbook)
            self._escalate_about(decision.decision, body, decision.content_hash, about)

    # -- running -------------------------------------------------------------------

    def _escalate(
        self,
        reason: str,
        body: dict[str, Any],
        playbook: str | None,
        content_hash: str | None,
        trigger: TriggerRow,
    ) -> None:
        about = (trigger.trigger_id, trigger.run_id, playbook)
        self._escalate_about(reason, body, content_hash, about)

    def _escalate_about(
        self,
        reason: str,
        body: dict[str, Any],
        content_hash: str | None,
        about: tuple[str | None, str | None, str | None],
    ) -> None:
        playbook = self.playbooks.get(content_hash or "")
        own = playbook.escalation if playbook else None
        base_dir = Path(playbook.file).resolve().parent if playbook else None
        try:
            self.escalator.escalate(reason, body, own, base_dir, about)
        except EngineError as exc:
            log.error("cannot record an escalation (%s): %s", reason, exc.message)

    def _stored_alert(self, notification_id: str, position: int) -> AlertPayload:
        return self._stored(notification_id).alerts[position]

    def _stored(self, notification_id: str) -> Notification:
        payload = self.ledger.notification_payload(notification_id)
        return decode_notification(payload.encode())

    def _queue_from_record(self, trigger: TriggerRow) -> None:
        notification = self._stored(trigger.notification_id)
        alert = notification.alerts[trigger.position]
        decision = Decision(
            RUN,
            trigger.reason,
            playbook=trigger.playbook,
            version=trigger.version,
            content_hash=trigger.content_hash,
            file=trigger.file,
            inputs=trigger.inputs,
            run_id=trigger.run_id,
            targets=tuple(trigger.targets),
        )
        receiver = notification.receiver
        self._queue(
            _Queued(trigger.trigger_id, decision, alert, receiver, trigger.decided_at, None)
        )

    def _queue(self, queued: _Queued) -> None:
        self.metrics.queued.inc()
        self.pool.submit(self._run, queued)

    def _run(self, queued: _Queued) -> None:
        self.metrics.queued.dec()
        trigger_id, decision, alert, receiver = (
            queued.trigger_id,
            queued.decision,
            queued.alert,
            queued.receiver,
        )
        if self.stopping.is_set() or not self.ledger.claim_trigger(trigger_id):
            return  # stays queued for the next start, or was cancelled by its resolution
        stale = self._stale(queued.decided_at)
        if stale:
            log.warning("trigger %s did not start: %s", trigger_id, stale)
            self._not_started(trigger_id, stale, STALE)
            return
        assert decision.file is not None and decision.run_id is not None
        request = RunRequest(
            file=decision.file,
            inputs=input_arguments(decision.inputs),
            home=self.home,
            alert=alert_namespace(alert),
            operator=f"alertmanager{f' receiver {receiver}' if receiver else ''}",
            trigger=trigger_id,
            checked=self._checked(decision.content_hash),
            content_hash=decision.content_hash,
        )
        try:
            prepared = prepare(request, decision.run_id, mode="hook")
            demoted = self._demotion(prepared.playbook)
            if demoted is not None:  # since the alert was decided: a human decides now
                self._not_started(trigger_id, _demoted_since(demoted, decision.file))
                return
            listener = RunMetrics(self.metrics, prepared.playbook.name, queued.received_at)
            run = make_run(prepared, decision.run_id, self.ledger, [listener])
        except EngineError as exc:
            log.warning("trigger %s did not start: %s", trigger_id, exc.message)
            self._not_started(trigger_id, exc.message)
            return
        except Exception as exc:  # a bug: recorded, and the server goes on
            log.exception("trigger %s did not start", trigger_id)
            self._not_started(trigger_id, f"internal error: {type(exc).__name__}")
            return
        self._execute(run)

    def _stale(self, decided_at: float) -> str:
        """Why a run decided at `decided_at` is too old to start now (a server that was
        down for hours must not act on what an alert said then), or ""."""
        age = time.time() - decided_at
        if age <= self.config.queue_seconds:
            return ""
        limit = self.config.queue.max_age
        return f"stale: queued {age_text(age)} ago, over the {limit} limit (queue.max_age)"

    def _not_started(self, trigger_id: str, reason: str, kind: str = NOT_STARTED) -> None:
        try:
            self.ledger.trigger_not_started(trigger_id, reason)
        except EngineError as exc:
            log.error("cannot record why trigger %s did not start: %s", trigger_id, exc.message)
            return
        self.metrics.suppressed.labels(kind).inc()
        self.sweep_escalations()

    def _checked(self, content_hash: str | None) -> tuple[str, Playbook] | None:
        """The catalog's model of the decided playbook and its text, if it holds them."""
        playbook = self.playbooks.get(content_hash or "")
        text = self.catalog.text_of(playbook) if playbook is not None else None
        return (text, playbook) if playbook is not None and text is not None else None

    def _execute(self, run: Run) -> None:
        with self._running_lock:
            # a run still being prepared when the server was told to stop does not start:
            # the drain counts only the runs in `running` (it would neither wait for this
            # one nor abort it); recorded nowhere yet, it is queued again at the next start
            if self.stopping.is_set():
                log.info("run %s not started: the server is stopping", run.run_id)
                return
            self.running[run.run_id] = run
        self.metrics.in_flight.inc()
        try:
            result = run.execute()
            self.metrics.runs.labels(run.playbook.name, result.outcome.value).inc()
            log.info("run %s of %s: %s", run.run_id, run.playbook.name, result.outcome.value)
        except Exception:
            log.exception("run %s failed inside the engine", run.run_id)
        finally:
            self.metrics.in_flight.dec()
            with self._running_lock:
                self.running.pop(run.run_id, None)
        self.sweep_escalations()


def age_text(seconds: float) -> str:
    """An age as an on-call reads it: 42s, 12m05s, 2h03m, 3d04h."""
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"
