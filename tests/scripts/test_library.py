"""Table-driven tests of the shipped scripts: events in, outcome and key lines out."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import pytest

from scripts.actions import Escalate, Listen, MessageKind, OutcomeKind, SendMessage
from scripts.engine import Conversation
from scripts.events import Dtmf, Event, HungUp, MachineDetected, MachineKind, Silence
from scripts.loader import shipped_scripts
from tests.scripts.conversation_kit import ACCOUNT, FRIDAY, NOTHING, run, said, script

YES = said("confirm")
NO = said("deny")
DATED = said("promise_to_pay", date=FRIDAY)
DATED_3000 = said("promise_to_pay", date=FRIDAY, amount=Decimal(3000))
UNDATED = said("promise_to_pay")


@dataclass(frozen=True)
class Case:
    """One conversation: the events after the call is answered and what must come of it."""

    id: str
    events: list[Event]
    outcome: OutcomeKind
    escalation: str | None = None
    transfer: bool = False
    says: tuple[str, ...] = ()  # fragments the robot must say
    never_says: tuple[str, ...] = ()
    promise: tuple[object, object] | None = None  # (due, amount) of a confirmed promise
    identity: bool = True
    message: MessageKind | None = None
    scripts: tuple[str, ...] = field(default=())


# Branches shared by the three dialogue scripts (same structure, different words).
DIALOGUE = ("soft_reminder", "warning", "broken_promise")

COMMON_OPENING = [
    Case(
        "voicemail",
        [MachineDetected(MachineKind.VOICEMAIL)],
        OutcomeKind.NO_DIALOGUE,
        identity=False,
    ),
    Case(
        "announcement",
        [MachineDetected(MachineKind.ANNOUNCEMENT)],
        OutcomeKind.NO_DIALOGUE,
        identity=False,
    ),
    Case("relative answers", [NO], OutcomeKind.NOT_DEBTOR, identity=False),
    Case(
        "wrong number at identity", [said("wrong_person")], OutcomeKind.WRONG_PERSON, identity=False
    ),
    Case(
        "operator at identity",
        [said("operator_request")],
        OutcomeKind.ESCALATED,
        "operator_request",
        transfer=True,
        identity=False,
    ),
    Case(
        "dtmf 0 at identity",
        [Dtmf("0")],
        OutcomeKind.ESCALATED,
        "operator_request",
        transfer=True,
        identity=False,
    ),
    Case(
        "callback at identity",
        [said("callback_later"), said()],
        OutcomeKind.CALLBACK,
        identity=False,
    ),
    Case(
        "two misunderstood at identity",
        [NOTHING, Silence(6)],
        OutcomeKind.ESCALATED,
        "misunderstood",
        identity=False,
    ),
    Case(
        "refusal at identity is asked again", [said("refusal"), YES, HungUp()], OutcomeKind.HUNG_UP
    ),
    Case("hang-up before identity", [HungUp()], OutcomeKind.NO_DIALOGUE, identity=False),
    Case(
        "the opening says who, automatic, recorded",
        [HungUp()],
        OutcomeKind.NO_DIALOGUE,
        identity=False,
        says=("Это УК «Уютный дом»", "автоматический", "записывается"),
    ),
]

DIALOGUE_CASES = [
    Case(
        "forgot, dated promise, confirmed",
        [YES, said("unaware"), DATED, YES],
        OutcomeKind.PROMISE,
        promise=(FRIDAY, Decimal("12480.50")),
        says=("Итак, вы оплатите <amount 12480.50 acc> до пятницы, <date 2026-11-27 gen>. Верно?",),
        message=MessageKind.PAYMENT_LINK,
    ),
    Case(
        "away then promise with a sum",
        [YES, said("away"), DATED_3000, YES],
        OutcomeKind.PROMISE,
        promise=(FRIDAY, Decimal(3000)),
    ),
    Case(
        "promise without date is asked again",
        [YES, UNDATED, DATED, YES],
        OutcomeKind.PROMISE,
        says=("А какого числа примерно?",),
        promise=(FRIDAY, Decimal("12480.50")),
    ),
    Case(
        "promise never dated",
        [YES, UNDATED, UNDATED],
        OutcomeKind.PROMISE,
        promise=(None, Decimal("12480.50")),
    ),
    Case("yes/no at the date question", [YES, NO, YES, NO], OutcomeKind.PROMISE, promise=None),
    Case(
        "read-back denied, corrected",
        [YES, DATED, NO, DATED_3000, YES],
        OutcomeKind.PROMISE,
        promise=(FRIDAY, Decimal(3000)),
    ),
    Case(
        "read-back corrected in one turn",
        [YES, DATED, said("deny", "promise_to_pay", date=FRIDAY, amount=Decimal(100)), YES],
        OutcomeKind.PROMISE,
        promise=(FRIDAY, Decimal(100)),
    ),
    Case("read-back then undated", [YES, DATED, UNDATED, UNDATED], OutcomeKind.PROMISE),
    Case(
        "hardship then instalments",
        [YES, said("financial_hardship"), YES],
        OutcomeKind.ESCALATED,
        "installment_request",
    ),
    Case(
        "hardship, no plan, a date",
        [YES, said("financial_hardship"), NO, DATED, YES],
        OutcomeKind.PROMISE,
    ),
    Case(
        "hardship with a dated promise",
        [YES, said("financial_hardship", "promise_to_pay", date=FRIDAY), YES],
        OutcomeKind.PROMISE,
    ),
    Case(
        "hardship offer answered with a promise",
        [YES, said("financial_hardship"), UNDATED, DATED, YES],
        OutcomeKind.PROMISE,
    ),
    Case(
        "instalment request",
        [YES, said("installment_request")],
        OutcomeKind.ESCALATED,
        "installment_request",
    ),
    Case(
        "refusal twice: consequences once, then escalate",
        [YES, said("refusal"), said("refusal")],
        OutcomeKind.REFUSED,
        "refusal",
        says=("пени",),
    ),
    Case("refusal then a promise", [YES, said("refusal"), DATED, YES], OutcomeKind.PROMISE),
    Case("dispute", [YES, said("dispute_amount")], OutcomeKind.ESCALATED, "dispute_amount"),
    Case(
        "dispute and refusal: the dispute decides",
        [YES, said("refusal", "dispute_amount")],
        OutcomeKind.ESCALATED,
        "dispute_amount",
    ),
    Case(
        "service complaint",
        [YES, said("service_complaint")],
        OutcomeKind.ESCALATED,
        "service_complaint",
    ),
    Case(
        "already paid: when and how, then a check",
        [YES, said("already_paid"), said()],
        OutcomeKind.ESCALATED,
        "already_paid",
        says=("когда и как вы оплатили",),
    ),
    Case(
        "payment question: link, then a date",
        [YES, said("payment_question"), DATED, YES],
        OutcomeKind.PROMISE,
        message=MessageKind.PAYMENT_LINK,
    ),
    Case("callback after identity", [YES, said("callback_later"), said()], OutcomeKind.CALLBACK),
    Case(
        "operator after identity",
        [YES, said("operator_request")],
        OutcomeKind.ESCALATED,
        "operator_request",
        transfer=True,
    ),
    Case(
        "dtmf 0 after identity",
        [YES, Dtmf("0")],
        OutcomeKind.ESCALATED,
        "operator_request",
        transfer=True,
    ),
    Case("other keys are ignored", [YES, Dtmf("5"), HungUp()], OutcomeKind.HUNG_UP),
    Case("wrong person later in the call", [YES, said("wrong_person")], OutcomeKind.WRONG_PERSON),
    Case("confirm at the reason question moves on", [YES, YES, DATED, YES], OutcomeKind.PROMISE),
    Case(
        "two misunderstood: give up and escalate",
        [YES, NOTHING, Silence(6)],
        OutcomeKind.ESCALATED,
        "misunderstood",
        says=("не удаётся вас понять",),
    ),
    Case(
        "one misunderstood is asked again",
        [YES, NOTHING, DATED, YES],
        OutcomeKind.PROMISE,
        says=("Простите, не расслышала",),
    ),
    Case("hang-up mid-call", [YES, HungUp()], OutcomeKind.HUNG_UP),
    Case("hang-up after a confirmed promise", [YES, DATED, YES, HungUp()], OutcomeKind.PROMISE),
    Case(
        "silence at callback question is asked again",
        [YES, said("callback_later"), Silence(6), said()],
        OutcomeKind.CALLBACK,
    ),
]

PRE_COURT = [
    Case(
        "dated promise, confirmed",
        [YES, DATED, YES],
        OutcomeKind.PROMISE,
        promise=(FRIDAY, Decimal("12480.50")),
        says=("последнее напоминание перед обращением в суд", "судебный приказ"),
    ),
    Case("undated promise asked once, then dated", [YES, UNDATED, DATED, YES], OutcomeKind.PROMISE),
    Case(
        "undated twice escalates",
        [YES, UNDATED, UNDATED],
        OutcomeKind.ESCALATED,
        "no_dated_promise",
    ),
    Case("unaware escalates", [YES, said("unaware")], OutcomeKind.ESCALATED, "no_dated_promise"),
    Case("away escalates", [YES, said("away")], OutcomeKind.ESCALATED, "no_dated_promise"),
    Case("no escalates", [YES, NO], OutcomeKind.ESCALATED, "no_dated_promise"),
    Case(
        "yes asks the exact date, yes again escalates",
        [YES, YES, YES],
        OutcomeKind.ESCALATED,
        "no_dated_promise",
    ),
    Case("no at the exact date", [YES, UNDATED, NO], OutcomeKind.ESCALATED, "no_dated_promise"),
    Case("refusal escalates at once", [YES, said("refusal")], OutcomeKind.REFUSED, "refusal"),
    Case(
        "hardship goes to instalments",
        [YES, said("financial_hardship")],
        OutcomeKind.ESCALATED,
        "installment_request",
    ),
    Case(
        "instalment request",
        [YES, said("installment_request")],
        OutcomeKind.ESCALATED,
        "installment_request",
    ),
    Case("dispute", [YES, said("dispute_amount")], OutcomeKind.ESCALATED, "dispute_amount"),
    Case("complaint", [YES, said("service_complaint")], OutcomeKind.ESCALATED, "service_complaint"),
    Case(
        "already paid", [YES, said("already_paid"), said()], OutcomeKind.ESCALATED, "already_paid"
    ),
    Case(
        "payment question sends details",
        [YES, said("payment_question"), DATED, YES],
        OutcomeKind.PROMISE,
        message=MessageKind.PAYMENT_DETAILS,
    ),
    Case("callback", [YES, said("callback_later"), said()], OutcomeKind.CALLBACK),
    Case(
        "operator",
        [YES, said("operator_request")],
        OutcomeKind.ESCALATED,
        "operator_request",
        transfer=True,
    ),
    Case("wrong person", [YES, said("wrong_person")], OutcomeKind.WRONG_PERSON),
    Case("read-back denied", [YES, DATED, NO, DATED, YES], OutcomeKind.PROMISE),
    Case(
        "read-back re-dated",
        [YES, DATED, DATED_3000, YES],
        OutcomeKind.PROMISE,
        promise=(FRIDAY, Decimal(3000)),
    ),
    Case(
        "read-back undated",
        [YES, DATED, UNDATED, UNDATED],
        OutcomeKind.ESCALATED,
        "no_dated_promise",
    ),
    Case("misunderstood twice", [YES, NOTHING, NOTHING], OutcomeKind.ESCALATED, "misunderstood"),
]

THANKS = [
    Case(
        "thanked, no questions",
        [YES, NO],
        OutcomeKind.COMPLETED,
        says=("мы получили ваш платёж — <amount 5000 nom> от <date 2026-11-21 gen>. Спасибо!",),
    ),
    Case("a question passed on", [YES, YES, said()], OutcomeKind.ESCALATED, "question"),
    Case("a question, then no", [YES, YES, NO], OutcomeKind.COMPLETED),
    Case("a question, yes", [YES, YES, YES], OutcomeKind.ESCALATED, "question"),
    Case("silence is a goodbye", [YES, Silence(6)], OutcomeKind.COMPLETED),
    Case("busy", [YES, said("callback_later")], OutcomeKind.COMPLETED),
    Case("already paid", [YES, said("already_paid")], OutcomeKind.COMPLETED),
    Case("promise for the rest", [YES, said("promise_to_pay")], OutcomeKind.COMPLETED),
    Case("refusal", [YES, said("refusal")], OutcomeKind.COMPLETED),
    Case("unaware", [YES, said("unaware")], OutcomeKind.COMPLETED),
    Case("away", [YES, said("away")], OutcomeKind.COMPLETED),
    Case(
        "instalments",
        [YES, said("installment_request")],
        OutcomeKind.ESCALATED,
        "installment_request",
    ),
    Case(
        "hardship", [YES, said("financial_hardship")], OutcomeKind.ESCALATED, "installment_request"
    ),
    Case(
        "payment question",
        [YES, said("payment_question")],
        OutcomeKind.COMPLETED,
        message=MessageKind.PAYMENT_LINK,
    ),
    Case("dispute", [YES, said("dispute_amount")], OutcomeKind.ESCALATED, "dispute_amount"),
    Case("complaint", [YES, said("service_complaint")], OutcomeKind.ESCALATED, "service_complaint"),
    Case(
        "operator",
        [YES, said("operator_request")],
        OutcomeKind.ESCALATED,
        "operator_request",
        transfer=True,
    ),
    Case("wrong person", [YES, said("wrong_person")], OutcomeKind.WRONG_PERSON),
    Case("misunderstood twice", [YES, NOTHING, NOTHING], OutcomeKind.ESCALATED, "misunderstood"),
]


def _table() -> list[object]:
    rows: list[object] = []
    for name in shipped_scripts():
        own = {"pre_court": PRE_COURT, "thanks": THANKS}.get(name, DIALOGUE_CASES)
        rows.extend(
            pytest.param(name, case, id=f"{name}: {case.id}") for case in COMMON_OPENING + own
        )
    return rows


def test_the_library_ships_the_five_scripts() -> None:
    assert set(shipped_scripts()) == {*DIALOGUE, "pre_court", "thanks"}


@pytest.mark.parametrize(("name", "case"), _table())
def test_conversation(name: str, case: Case) -> None:
    result = run(name, case.events)
    outcome = result.outcome
    context = f"\n--- robot said ---\n{result.text}"
    assert outcome.kind is case.outcome, context
    assert outcome.identity_confirmed is case.identity, context
    escalations = [a for a in result.actions if isinstance(a, Escalate)]
    if case.escalation is None:
        assert escalations == [], context
    else:
        assert [e.reason for e in escalations] == [case.escalation], context
        assert escalations[0].transfer is case.transfer, context
    for fragment in case.says:
        assert fragment in result.text, f"missing «{fragment}»{context}"
    for fragment in case.never_says:
        assert fragment not in result.text, context
    if case.promise is not None:
        assert outcome.promise is not None, context
        assert outcome.promise.confirmed, context
        assert (outcome.promise.due, outcome.promise.amount) == case.promise, context
    if case.message is not None:
        sent = [a for a in result.actions if isinstance(a, SendMessage)]
        assert [m.kind for m in sent] == [case.message], context
        assert sent[0].payment_link == "https://pay.example/ls/1"
    if outcome.machine is not None:  # voicemail or announcement: hang up, say nothing more
        assert len(result.batches[-1]) == 1, context


@pytest.mark.parametrize("name", DIALOGUE + ("pre_court", "thanks"))
def test_every_script_opens_with_identity_question(name: str) -> None:
    result = run(name, [])
    first = result.batches[0]
    assert isinstance(first[-1], Listen)
    assert first[-1].asked.value == "identity"
    assert not first[0].interruptible  # type: ignore[union-attr]


@pytest.mark.parametrize("name", DIALOGUE)
def test_no_message_promised_when_none_may_be_sent(name: str) -> None:
    """Caps reached, opt-out, a landline or no gateway: the robot does not say «пришлём в СМС»
    and asks for no message, but says where the details are (issue 15)."""
    from dataclasses import replace

    from scripts.engine import NO_MESSAGE_LINE

    silent = replace(ACCOUNT, can_text=False)
    result = run(name, [YES, said("unaware"), DATED, YES], silent)
    assert result.outcome.kind is OutcomeKind.PROMISE
    assert "СМС" not in result.text
    assert NO_MESSAGE_LINE in result.text  # where the details are, instead
    assert not [a for a in result.actions if isinstance(a, SendMessage)]
    assert "Договорились" in result.text or "Хорошо" in result.text
    spoken = {
        p
        for line in Conversation(script(name), silent).script_lines()
        for p in line
        if isinstance(p, str)
    }
    assert not any("СМС" in p for p in spoken)  # nor rendered before the call
    assert any(NO_MESSAGE_LINE in p for p in spoken)
    assert "СМС" in run(name, [YES, said("unaware"), DATED, YES]).text  # with messages it is
