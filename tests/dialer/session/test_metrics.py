"""The session's metrics hooks on the loopback line: a finished call is counted once.

The figures are read back from the registry by their exposed names, as Prometheus would
see them (``*_total``, ``*_count``, ``*_bucket``).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from classifier.contract import TurnClassifier
from dialer.campaigns.attempts import ClaimedAttempt
from dialer.compliance import CallOutcome
from dialer.metrics import CallMetrics
from dialer.runner import ScriptBook, SessionCallRunner
from dialer.session import CallSession, SessionParts
from dialer.session.phrasing import RussianPhrasing
from dialer.telephony.loopback import LoopbackExchange
from speech.recognition import RecognitionEvent
from tests.dialer.session.conftest import Line
from tests.dialer.session.standins import FarEnd, ScriptedEngine, ScriptedStream, ToneVoice
from tests.dialer.session.test_session import answer_each_turn

pytestmark = [pytest.mark.one_database]


def sample(metrics: CallMetrics, name: str, **labels: str) -> float:
    found = metrics.registry.get_sample_value(name, labels)
    return 0.0 if found is None else found


async def test_a_finished_conversation_is_counted_with_its_latencies(line: Line) -> None:
    metrics = CallMetrics()
    seen_in_progress: list[float] = []

    async def debtor(far: FarEnd) -> None:
        assert await far.robot_turn()
        seen_in_progress.append(sample(metrics, "napomni_calls_in_progress"))  # while talking
        await far.say(0.8)
        await answer_each_turn(far, 3)

    texts = ["да это я", "забыл заплатить", "заплачу двадцать пятого ноября", "да верно"]
    report, _ = await line.call(texts, debtor, metrics=metrics)

    assert report.outcome is not None
    assert seen_in_progress == [1.0]
    assert sample(metrics, "napomni_calls_in_progress") == 0
    ended = {"line": "answered", "conversation": report.outcome.kind.value}
    assert sample(metrics, "napomni_calls_ended_total", **ended) == 1
    assert sample(metrics, "napomni_call_failures_total", stage="conversation") == 0
    assert sample(metrics, "napomni_turn_latency_seconds_count") == len(report.latencies_ms) == 4
    assert sample(metrics, "napomni_turn_latency_seconds_sum") == sum(
        ms / 1000 for ms in report.latencies_ms
    )
    assert report.first_word_ms is not None
    assert sample(metrics, "napomni_first_word_seconds_count") == 1
    assert sample(metrics, "napomni_first_word_seconds_bucket", le="+Inf") == 1


async def test_an_unanswered_call_is_counted_by_the_line(line: Line) -> None:
    metrics = CallMetrics()

    async def nobody(far: FarEnd) -> None:
        raise AssertionError("a busy line has no far end")

    report, far = await line.call([], nobody, behaviour="busy", metrics=metrics)

    assert far is None
    assert report.result.outcome.value == "busy"
    assert sample(metrics, "napomni_calls_ended_total", line="busy", conversation="none") == 1
    assert sample(metrics, "napomni_turn_latency_seconds_count") == 0
    assert sample(metrics, "napomni_first_word_seconds_count") == 0
    assert sample(metrics, "napomni_calls_in_progress") == 0


class _FirstChunkFails(ScriptedStream):
    """A recogniser stream that raises on its first chunk, then hears as usual."""

    failed = False

    def accept(self, frame: bytes) -> list[RecognitionEvent]:
        if not self.failed:
            self.failed = True
            raise RuntimeError("decoder hiccup")
        return super().accept(frame)


class _FlakyEngine(ScriptedEngine):
    def open_stream(self) -> ScriptedStream:
        return _FirstChunkFails(self.texts, self.endpoint)


async def test_a_recogniser_failure_is_counted_and_the_call_goes_on(line: Line) -> None:
    metrics = CallMetrics()

    async def debtor(far: FarEnd) -> None:
        await far.robot_speaking()
        await far.call.hangup()

    report, _ = await line.call([], debtor, engine=_FlakyEngine([]), metrics=metrics)

    assert report.failure_reason is None
    assert report.outcome is not None
    assert sample(metrics, "napomni_recognition_errors_total") == 1
    conversation = report.outcome.kind.value
    assert (
        sample(metrics, "napomni_calls_ended_total", line="answered", conversation=conversation)
        == 1
    )


async def test_an_attempt_that_cannot_start_is_a_start_failure(
    classifier: TurnClassifier, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    metrics = CallMetrics()
    parts = SessionParts(
        recognizer=ScriptedEngine([]),
        classifier=classifier,
        voice=ToneVoice(),
        phrasing=RussianPhrasing(),
    )
    session = CallSession(parts, metrics=metrics)
    runner = SessionCallRunner(
        LoopbackExchange().telephone(), session, session_factory, ScriptBook(tmp_path)
    )
    attempt = ClaimedAttempt(
        attempt_id=1, campaign_id=1, organisation_id=1, account_id=1, phone_id=1,
        phone_number="+79160000001", script="no_such_script", purpose="reminder", number=1,
        debt=Decimal("100.00"), time_zone="Europe/Moscow", lease_owner="test",
        lease_expires_at=dt.datetime.now(dt.UTC),
    )  # fmt: skip
    try:
        outcome = await runner.run(attempt)
    finally:
        session.close()

    assert outcome.result is CallOutcome.FAILED
    assert sample(metrics, "napomni_call_failures_total", stage="start") == 1
    assert sample(metrics, "napomni_call_failures_total", stage="dial") == 0
    assert sample(metrics, "napomni_calls_in_progress") == 0
