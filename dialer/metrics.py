"""Prometheus figures of the calls one process places: what the call session reports.

:class:`CallMetrics` owns its own registry (no process-wide globals): the worker makes one,
hands it to :class:`~dialer.session.CallSession`, and serves the registry on
``napomni worker --metrics-port``. The session calls it at two points only — around a whole
call (:meth:`CallMetrics.track`) and when the recogniser fails on a chunk — so the figures
come from the same :class:`~dialer.session.report.CallReport` that is stored.

Labels are closed sets (the line's outcome, the conversation's outcome, a stage): never a
number, a name, an account or a call id.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING, Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from dialer.telephony.port import Outcome

if TYPE_CHECKING:
    from dialer.session.report import CallReport

__all__ = ["FIRST_WORD_BUCKETS_S", "TURN_LATENCY_BUCKETS_S", "CallMetrics"]

# A reply within 0.1–3 s is the range that matters on a telephone: under 0.5 s feels live,
# past 1.5 s the debtor starts asking "алло?". The top buckets catch the stalls.
TURN_LATENCY_BUCKETS_S: Final = (0.1, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0)
FIRST_WORD_BUCKETS_S: Final = (0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0)


class CallMetrics:
    """Calls in progress, calls ended by outcome, turn and first-word latency, errors."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.in_progress = Gauge(
            "napomni_calls_in_progress",
            "Calls this process is handling now: preparing, dialling, ringing or talking.",
            registry=self.registry,
        )
        self.ended = Counter(
            "napomni_calls_ended",
            "Calls ended, by the line's outcome and the conversation's outcome "
            "(none: not answered; failed: the session failed).",
            ["line", "conversation"],
            registry=self.registry,
        )
        self.failures = Counter(
            "napomni_call_failures",
            "Calls that failed: start (the script or the account could not be read, nothing "
            "dialled), dial (the telephone or the line failed before an answer), "
            "conversation (the session ended an answered call on an error).",
            ["stage"],
            registry=self.registry,
        )
        for stage in ("start", "dial", "conversation"):  # present at 0 for rate() alerts
            self.failures.labels(stage=stage)
        self.recognition_errors = Counter(
            "napomni_recognition_errors",
            "Audio chunks the recogniser failed on (the call goes on without them).",
            registry=self.registry,
        )
        self.turn_latency = Histogram(
            "napomni_turn_latency_seconds",
            "From the end of the debtor's utterance to the first frame of the robot's reply.",
            buckets=TURN_LATENCY_BUCKETS_S,
            registry=self.registry,
        )
        self.first_word = Histogram(
            "napomni_first_word_seconds",
            "From the answer to the robot's first frame on the wire.",
            buckets=FIRST_WORD_BUCKETS_S,
            registry=self.registry,
        )

    async def track(self, call: Awaitable[CallReport]) -> CallReport:
        """Await one whole call, counted in progress meanwhile; record its report."""
        with self.in_progress.track_inprogress():
            report = await call
        self.call_ended(report)
        return report

    def call_ended(self, report: CallReport) -> None:
        """Count a finished call and observe its turn and first-word latencies."""
        line = report.result.outcome
        if line is not Outcome.ANSWERED:
            conversation = "none"
        elif report.failure_reason is not None or report.outcome is None:
            conversation = "failed"
        else:
            conversation = report.outcome.kind.value
        self.ended.labels(line=line.value, conversation=conversation).inc()
        if line is Outcome.FAILED:
            self.failures.labels(stage="dial").inc()
        elif line is Outcome.ANSWERED and report.failure_reason is not None:
            self.failures.labels(stage="conversation").inc()
        for latency_ms in report.latencies_ms:
            self.turn_latency.observe(latency_ms / 1000)
        if report.first_word_ms is not None:
            self.first_word.observe(report.first_word_ms / 1000)

    def call_not_started(self) -> None:
        """An attempt failed before anything was dialled (its script or account)."""
        self.failures.labels(stage="start").inc()

    def recognition_failed(self) -> None:
        """The recogniser raised on one chunk of a call's audio."""
        self.recognition_errors.inc()
