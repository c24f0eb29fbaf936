"""The pure dialogue engine: events in, actions out.

:class:`Conversation` runs one :class:`~scripts.model.Script` for one account. It has no
clock, no I/O and no randomness: the same events give the same actions. The call session
feeds it what happens on the line (:mod:`scripts.events`) and performs what it returns
(:mod:`scripts.actions`).

Rules the engine keeps whatever a script says:
- voicemail or an operator announcement: hang up at once, saying nothing;
- no debt detail is spoken and no payment message is sent before the debtor confirmed who
  they are (the loader checks this statically; the engine checks it again at run time);
- at most one payment message per call;
- after ``max_misunderstood`` consecutive answers it had to ask again, it gives up politely
  (the script's ``give_up`` node) instead of looping;
- «Алло? Алло?» into the robot's silence (:class:`~scripts.events.Hello`) is not an answer:
  before the debtor confirmed who they are the robot greets again from the start (they may
  not have heard who calls), afterwards it asks its current question again; neither counts
  as misunderstood, up to ``_MAX_HELLOS`` times in a row (then it is).

The call session decides which utterances are answers and to which question (its
turn-taking rules are in :mod:`dialer.session.turn_taking`); the engine answers whatever it
is given against the question it is at.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal

from classifier.contract import Asked, Classification, Tag
from scripts.actions import (
    Action,
    End,
    Escalate,
    Listen,
    MessageKind,
    Outcome,
    OutcomeKind,
    Promise,
    Say,
    SendMessage,
    StopSpeaking,
)
from scripts.errors import ConversationError, VariablesMissing
from scripts.events import (
    BargeIn,
    CallAnswered,
    Dtmf,
    Event,
    Heard,
    Hello,
    HungUp,
    MachineDetected,
    Silence,
)
from scripts.loader import load_script
from scripts.model import REPEAT, Branch, Guard, Line, Node, Script, VarRef
from scripts.values import (
    VARIABLES,
    AccountVariables,
    Amount,
    Count,
    DateValue,
    Part,
    Weekday,
)

__all__ = ["Conversation", "load_script"]

_NOT_REASONS = {Tag.CONFIRM, Tag.DENY}
_MAX_HELLOS = 3


@dataclass(frozen=True, slots=True)
class _Step:
    """Where an answer leads: the target node (or repeat) and whether a tag decided it."""

    target: str
    understood: bool


_MESSAGE_PROMISE = re.compile(r"[^.!?]*\b(?:СМС|смс|SMS|сообщени\w*)\b[^.!?]*[.!?]?\s*")


# Said instead of «пришлём в СМС» when no message may go: where the details are, without a
# promise nobody keeps (no callback is booked for it). One fixed sentence, so it is rendered
# with the script's other fixed lines, never at answer time.
NO_MESSAGE_LINE = "Реквизиты для оплаты есть в вашей квитанции."


def without_message_promise(parts: tuple[Part, ...]) -> tuple[Part, ...]:
    """A line whose sentences promising a message («Ссылку на оплату пришлём в СМС.») are
    replaced by :data:`NO_MESSAGE_LINE` (once)."""
    kept: list[Part] = []
    replaced = False
    for part in parts:
        if isinstance(part, str):
            found = _MESSAGE_PROMISE.search(part) is not None
            part = _MESSAGE_PROMISE.sub("", part).strip()
            if found and not replaced:
                part = f"{part} {NO_MESSAGE_LINE}".strip()
                replaced = True
            if not part:
                continue
        kept.append(part)
    return tuple(kept) if any(isinstance(p, str) and p for p in kept) else ()


class Conversation:
    """One running dialogue: feed :meth:`handle` the call's events, perform the actions.

    Raises :class:`~scripts.errors.VariablesMissing` at construction when the account lacks
    a value the script speaks (a broken-promise script for an account with no promise).
    """

    def __init__(self, script: Script, variables: AccountVariables) -> None:
        self.script = script
        self.variables = variables
        missing = [
            name
            for name in sorted(script.variables)
            if not VARIABLES[name].from_conversation and not self._available(name)
        ]
        if missing:
            raise VariablesMissing(
                f"сценарий {script.name}: у лицевого счёта нет значений {', '.join(missing)}"
            )
        self._started = False
        self._node: Node | None = None
        self._outcome: Outcome | None = None
        self._identity_confirmed = False
        self._misunderstood = 0
        self._taken: set[tuple[str, int]] = set()
        self._last_turn: Classification | None = None
        self._promise: Promise | None = None
        self._reasons: list[Tag] = []
        self._escalation: Escalate | None = None
        self._messages: list[MessageKind] = []
        self._turns = 0
        self._interruptible_pending = False
        self._trail: list[str] = []
        self._hellos = 0

    # --- state the session reads --------------------------------------------------

    @property
    def ended(self) -> bool:
        """Whether the conversation is over (an :class:`End` was returned)."""
        return self._outcome is not None

    @property
    def outcome(self) -> Outcome | None:
        """The outcome, once ended."""
        return self._outcome

    @property
    def asked(self) -> Asked | None:
        """What the robot is waiting an answer to (pass it to the classifier), if listening."""
        return self._node.ask if self._node is not None and not self.ended else None

    @property
    def node(self) -> str | None:
        """The name of the node the conversation is at (for logs: a node name, no text)."""
        return self._node.name if self._node is not None else None

    @property
    def trail(self) -> tuple[str, ...]:
        """Every node entered so far, in order (for the call record and for tests)."""
        return tuple(self._trail)

    @property
    def identity_confirmed(self) -> bool:
        """Whether the debtor has confirmed who they are."""
        return self._identity_confirmed

    # --- events -------------------------------------------------------------------

    def handle(self, event: Event) -> list[Action]:
        """The actions for ``event``, in the order to perform them. After the end: none."""
        if self.ended:
            return []
        match event:
            case CallAnswered():
                if self._started:
                    raise ConversationError("звонок уже начат")
                self._started = True
                return self._enter(self.script.start, repeat=False)
            case MachineDetected(kind=kind):
                return self._finish(OutcomeKind.NO_DIALOGUE, machine=kind.value)
            case HungUp():
                return self._finish(self._hang_up_kind())
        if not self._started or self._node is None:
            raise ConversationError(f"{type(event).__name__} до того, как на звонок ответили")
        if not isinstance(event, Hello):
            self._hellos = 0
        match event:
            case Heard(classification=classification):
                return self._on_turn(classification)
            case Hello():
                return self._on_hello()
            case Silence():
                self._last_turn = None
                branch = self._node.silence or self.script.silence
                step = self._pick_default(branch) if branch else self._otherwise()
                return self._go(step)
            case BargeIn():
                return [StopSpeaking()] if self._interruptible_pending else []
            case Dtmf(digit=digit):
                self._last_turn = None
                dtmf_branch = (self._node.dtmf or {}).get(digit) or self.script.dtmf.get(digit)
                if dtmf_branch is None:
                    return []
                return self._go(_Step(self._choose(dtmf_branch), understood=True))
        raise ConversationError(f"неизвестное событие {event!r}")

    def _on_turn(self, classification: Classification) -> list[Action]:
        node = self._node
        if node is None:  # pragma: no cover - guarded by handle()
            raise ConversationError("нет текущего узла")
        self._turns += 1
        self._last_turn = classification
        for tag in classification.tags:
            if tag not in _NOT_REASONS and tag not in self._reasons:
                self._reasons.append(tag)
        carried = [t for t in self.script.tag_order if classification.has(t)]
        own = node.on or {}
        for tag in carried:
            if tag in own:
                if node.ask is Asked.IDENTITY and tag is Tag.CONFIRM:
                    self._identity_confirmed = True
                return self._go(self._by_tag(tag, own[tag], classification))
        if node.otherwise is not None:
            return self._go(self._pick_default(node.otherwise))
        for tag in carried:
            if tag in self.script.on:
                return self._go(self._by_tag(tag, self.script.on[tag], classification))
        return self._go(self._otherwise())

    def _on_hello(self) -> list[Action]:
        node = self._node
        if node is None:  # pragma: no cover - guarded by handle()
            raise ConversationError("нет текущего узла")
        self._hellos += 1
        self._last_turn = None
        if self._hellos > _MAX_HELLOS:
            return self._go(self._otherwise())
        if not self._identity_confirmed:
            return self._enter(self.script.start, repeat=False)
        return self._enter(node.name, repeat=True)

    def _by_tag(self, tag: Tag, branch: Branch, classification: Classification) -> _Step:
        # A promise counts only when the debtor (identity confirmed) is answered as promising:
        # "после семи" to «когда перезвонить?» is a time, not a payment date.
        if tag is Tag.PROMISE_TO_PAY and self._identity_confirmed:
            old = self._promise
            self._promise = Promise(
                due=classification.promise_date or (old.due if old else None),
                amount=classification.promise_amount
                if classification.promise_amount is not None
                else (old.amount if old else None),
                confirmed=False,
            )
        return _Step(self._choose(branch), understood=True)

    # --- moving between nodes -----------------------------------------------------

    def _otherwise(self) -> _Step:
        if self.script.otherwise is None:  # the loader requires one for every asking node
            raise ConversationError(f"{self.script.source}: нет ветки otherwise")
        return self._pick_default(self.script.otherwise)

    def _pick_default(self, branch: Branch) -> _Step:
        target = self._choose(branch)
        return _Step(target, understood=target != REPEAT)

    def _choose(self, branch: Branch) -> str:
        for index, choice in enumerate(branch.choices):
            key = (branch.where, index)
            if choice.when is Guard.FIRST_TIME and key in self._taken:
                continue
            if choice.when is Guard.PROMISE_DATE and not self._turn_named_date():
                continue
            self._taken.add(key)
            return choice.go
        raise ConversationError(f"{self.script.source}: {branch.where}: ни один вариант не подошёл")

    def _turn_named_date(self) -> bool:
        turn = self._last_turn
        return turn is not None and turn.has(Tag.PROMISE_TO_PAY) and turn.promise_date is not None

    def _go(self, step: _Step) -> list[Action]:
        node = self._node
        if node is None:  # pragma: no cover - guarded by handle()
            raise ConversationError("нет текущего узла")
        if step.target != REPEAT and step.understood:
            self._misunderstood = 0
            return self._enter(step.target, repeat=False)
        self._misunderstood += 1
        if self._misunderstood >= self.script.max_misunderstood:
            return self._enter(self.script.give_up, repeat=False)
        if step.target == REPEAT:
            return self._enter(node.name, repeat=True)
        return self._enter(step.target, repeat=False)

    def _enter(self, name: str, *, repeat: bool) -> list[Action]:
        actions: list[Action] = []
        self._interruptible_pending = False
        while True:
            node = self.script.nodes[name]
            self._node = node
            self._trail.append(name)
            if node.confirm_promise and self._promise is not None:
                # The read-back said the whole debt when no sum was named: that is the promise.
                amount = self._promise.amount
                self._promise = Promise(
                    self._promise.due,
                    amount if amount is not None else self.variables.debt_total,
                    confirmed=True,
                )
            lines = node.reprompt if repeat and node.reprompt else node.say
            silent_send = node.send is not None and not self.variables.can_text
            for line in lines:
                parts = self._render(node, line)
                if silent_send:  # no message may go: its promise is not said either
                    parts = without_message_promise(parts)
                    if not parts:
                        continue
                actions.append(Say(parts, interruptible=line.interruptible))
                self._interruptible_pending |= line.interruptible
            # One payment message per call at most: messages count against the debtor's
            # legal limits (230-ФЗ: 2 a day), and a second copy says nothing new.
            if node.send is not None and not self._messages and self.variables.can_text:
                self._require_identity(node, "send")
                self._messages.append(node.send)
                actions.append(SendMessage(node.send, self.variables.payment_link))
            if node.escalate is not None:
                spec = node.escalate
                self._escalation = Escalate(spec.reason, spec.priority, spec.transfer)
                actions.append(self._escalation)
            if node.end is not None:
                return actions + self._finish(node.end)
            if node.ask is not None:
                timeout = node.timeout_s or self.script.timeout_s
                actions.append(Listen(node.ask, timeout))
                return actions
            if node.next is None:  # the loader requires ask, next or end
                raise ConversationError(f"{self.script.source}: узел {name} никуда не ведёт")
            name, repeat = self._choose(node.next), False

    def _finish(self, kind: OutcomeKind, *, machine: str | None = None) -> list[Action]:
        self._outcome = Outcome(
            kind=kind,
            identity_confirmed=self._identity_confirmed,
            phone_wrong=kind is OutcomeKind.WRONG_PERSON,
            promise=self._promise,
            reasons=tuple(self._reasons),
            escalation=self._escalation,
            messages=tuple(self._messages),
            turns=self._turns,
            machine=machine,
        )
        return [End(self._outcome)]

    def _hang_up_kind(self) -> OutcomeKind:
        if self._promise is not None and self._promise.confirmed:
            return OutcomeKind.PROMISE
        if not self._identity_confirmed:
            return OutcomeKind.NO_DIALOGUE
        return OutcomeKind.HUNG_UP

    # --- variables ----------------------------------------------------------------

    def _require_identity(self, node: Node, what: str) -> None:
        if not self._identity_confirmed:
            raise ConversationError(
                f"{self.script.source}: узел {node.name}: {what} до подтверждения личности"
            )

    def _available(self, name: str) -> bool:
        v = self.variables
        match name:
            case "last_payment_date" | "last_payment_amount":
                return v.last_payment is not None
            case "promised_date":
                return v.last_promise is not None
            case "promised_amount":
                return v.last_promise is not None and v.last_promise.amount is not None
            case "services":
                return bool(v.debt_by_service)
        return True

    # --- lines ahead ----------------------------------------------------------------

    def script_lines(self) -> list[tuple[Part, ...]]:
        """Every line the script can say to this account, for rendering before the call.

        Nothing is said here, so identity does not matter. A value the debtor has yet to
        give (the promised date and sum) cuts its line in two: the words around it are known
        now, and the value itself is said from number words. A line naming a value the
        account lacks (no earlier promise) is left out: the script cannot say it either.
        """
        lines: list[tuple[Part, ...]] = []
        for node in self.script.nodes.values():
            for line in (*node.say, *node.reprompt):
                for piece in self._pieces_ahead(node, line):
                    if node.send is not None and not self.variables.can_text:
                        piece = without_message_promise(piece)
                    if piece and piece not in lines:
                        lines.append(piece)
        return lines

    def _pieces_ahead(self, node: Node, line: Line) -> list[tuple[Part, ...]]:
        pieces: list[tuple[Part, ...]] = []
        parts: list[Part] = []
        for piece in line.template:
            if isinstance(piece, str):
                parts.append(piece)
            elif VARIABLES[piece.name].from_conversation:
                pieces.append(tuple(parts))
                parts = []
            else:
                try:
                    parts.extend(self._value(node, piece))
                except ConversationError:
                    return []
        return [*pieces, tuple(parts)]

    def _render(self, node: Node, line: Line) -> tuple[Part, ...]:
        parts: list[Part] = []
        for piece in line.template:
            if isinstance(piece, str):
                parts.append(piece)
                continue
            if VARIABLES[piece.name].private:
                self._require_identity(node, f"{{{piece.name}}}")
            parts.extend(self._value(node, piece))
        return tuple(parts)

    def _value(self, node: Node, ref: VarRef) -> list[Part]:
        v = self.variables
        spec = VARIABLES[ref.name]
        case = ref.case
        match ref.name:
            case "organisation":
                return [v.organisation]
            case "name":
                return [v.addressed_as]
            case "full_name":
                return [v.full_name]
            case "address":
                return [v.address]
            case "debt":
                return [Amount(v.debt_total, case or "nom")]
            case "peni":
                return [Amount(v.peni, case or "nom")]
            case "months_overdue":
                return [Count(v.months_overdue, spec.noun, case or "nom")]
            case "services":
                return self._services()
            case "promise_weekday":
                due = self._promise.due if self._promise else None
                if due is None:
                    raise ConversationError(
                        f"{self.script.source}: узел {node.name}: нет даты для {{promise_weekday}}"
                    )
                return [Weekday(due, case or "nom")]
        value = self._history_value(ref.name)
        if value is None:
            raise ConversationError(
                f"{self.script.source}: узел {node.name}: нет значения для {{{ref.name}}}"
            )
        if isinstance(value, Decimal):
            return [Amount(value, case or "nom")]
        return [DateValue(value, case or "gen")]

    def _history_value(self, name: str) -> dt.date | Decimal | None:
        v = self.variables
        last = v.last_promise
        match name:
            case "last_payment_date":
                return v.last_payment.paid_on if v.last_payment else None
            case "last_payment_amount":
                return v.last_payment.amount if v.last_payment else None
            case "promised_date":
                return last.due if last else None
            case "promised_amount":
                return last.amount if last else None
            case "promise_date":
                return self._promise.due if self._promise else None
            case "promise_amount":
                if self._promise is not None and self._promise.amount is not None:
                    return self._promise.amount
                return v.debt_total  # no sum named: the whole debt
        return None

    def _services(self) -> list[Part]:
        parts: list[Part] = []
        for i, line in enumerate(self.variables.debt_by_service):
            if i:
                parts.append(", ")
            parts.extend([f"{line.service} — ", Amount(line.amount, "nom")])
        return parts
