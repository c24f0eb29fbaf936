"""``napomni script``: check dialogue scripts and rehearse one in the terminal.

``rehearse`` is a text call: the robot's lines are printed in Russian words (amounts, dates
and counts rendered by ``speech.russian``, exactly as the call would say them), each debtor
answer is read from stdin, classified by the real trained classifier, and fed to the engine;
the outcome is printed at the end. It reads stdin line by line, so it also runs scripted::

    napomni script rehearse warning < answers.txt
"""

from __future__ import annotations

import datetime as dt
import sys
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import click

from napomni.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from classifier.contract import TurnClassifier, TurnContext
    from scripts.actions import Action, Listen, Outcome
    from scripts.events import Event
    from scripts.model import Script
    from scripts.values import AccountVariables, Part

__all__ = ["script", "account_variables", "demo_account", "render_parts"]

_COMMANDS_HELP = (
    "Ответы абонента — по одному в строке. Пустая строка или /silence — молчание; "
    "/dtmf N — нажата клавиша N; /voicemail — автоответчик; /announcement — сообщение "
    "оператора связи; /hangup или конец ввода — абонент положил трубку."
)

_OUTCOME_WORDS = {
    "promise": "обещание оплатить",
    "refused": "отказ",
    "wrong_person": "не тот человек — номер помечен неверным",
    "not_debtor": "ответил не должник",
    "callback_requested": "просит перезвонить",
    "escalated": "передано специалисту",
    "completed": "разговор завершён",
    "hung_up": "абонент положил трубку",
    "no_dialogue": "разговора не было",
}


@click.group(name="script", help="Сценарии разговора: проверка и репетиция.")
def script() -> None:
    """The ``script`` command group."""


@script.command(
    name="check", help="Проверить файлы сценариев (YAML). Без аргументов — все из библиотеки."
)
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
def check(files: tuple[Path, ...]) -> None:
    """Validate each file; print every problem; exit 1 if any file is invalid."""
    from scripts.errors import ScriptInvalid
    from scripts.loader import library_script, load_script, shipped_scripts

    paths = list(files) or [library_script(name) for name in shipped_scripts()]
    failed = 0
    for path in paths:
        try:
            loaded = load_script(path)
        except ScriptInvalid as err:
            failed += 1
            click.echo(f"ОШИБКА {path}:", err=True)
            for problem in err.problems:
                click.echo(f"  {problem}", err=True)
            continue
        click.echo(f"ок  {path}: «{loaded.title}», узлов: {len(loaded.nodes)}")
    if failed:
        raise SystemExit(1)


@script.command(name="rehearse", help="Репетиция разговора в терминале. " + _COMMANDS_HELP)
@click.argument("name_or_file")
@click.option(
    "--account",
    "account_id",
    type=int,
    default=None,
    help="ID лицевого счёта в базе (без флага — демо-счёт).",
)
@click.option(
    "--today",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Дата звонка ГГГГ-ММ-ДД (для дат обещаний; по умолчанию сегодня).",
)
@click.pass_obj
def rehearse(
    settings: Settings, name_or_file: str, account_id: int | None, today: dt.datetime | None
) -> None:
    """Run a text conversation over stdin/stdout with the real classifier."""
    from classifier.errors import ClassifierError
    from classifier.model import load_classifier
    from scripts.errors import ScriptError

    call_day = today.date() if today is not None else dt.date.today()
    loaded = _load(name_or_file)
    if account_id is None:
        variables = demo_account(call_day)
    else:
        from storage.database import make_engine, make_session_factory

        engine = make_engine(settings.database_url)
        try:
            with make_session_factory(engine)() as session:
                variables = account_variables(session, account_id)
        finally:
            engine.dispose()
    try:
        classifier = load_classifier(settings.models_dir)
    except ClassifierError as err:
        raise click.ClickException(
            f"классификатор не загружен: {err}. Обучите его: napomni classifier train"
        ) from err
    try:
        outcome = _run(loaded, variables, classifier, call_day)
    except ScriptError as err:
        raise click.ClickException(str(err)) from err
    _print_outcome(outcome)


def _load(name_or_file: str) -> Script:
    from scripts.errors import ScriptInvalid
    from scripts.loader import library_script, load_script, shipped_scripts

    path = Path(name_or_file)
    if not path.exists():
        if name_or_file not in shipped_scripts():
            raise click.ClickException(
                f"нет файла и нет сценария «{name_or_file}» в библиотеке "
                f"(есть: {', '.join(shipped_scripts())})"
            )
        path = library_script(name_or_file)
    try:
        return load_script(path)
    except ScriptInvalid as err:
        raise click.ClickException(f"сценарий с ошибками:\n{err}") from err


def demo_account(today: dt.date) -> AccountVariables:
    """A made-up account for rehearsals: every variable any shipped script speaks is set."""
    from dialer.rehearsal import demo_account as rehearsal_account

    return rehearsal_account(today, paid_days_ago=2)


def account_variables(session: Session, account_id: int) -> AccountVariables:
    """What a script may say about account ``account_id``, read from the debt book.

    The debtor is the account's owner (else its first person); the debt is the sum of the
    positive debt lines, per service; months overdue count the months with a debt.
    """
    import sqlalchemy as sa

    from scripts.values import AccountVariables, LastPayment, PastPromise, ServiceDebt
    from storage.models.campaigns import Promise, PromiseStatus
    from storage.models.debt_book import Account, Person
    from storage.models.enums import PersonRole
    from storage.models.ledger import DebtLine, Payment

    account = session.get(Account, account_id)
    if account is None:
        raise click.ClickException(f"лицевой счёт id={account_id} не найден")
    people = session.scalars(
        sa.select(Person).where(Person.account_id == account_id).order_by(Person.id)
    ).all()
    if not people:
        raise click.ClickException(f"у лицевого счёта id={account_id} нет ни одного человека")
    debtor = next((p for p in people if p.role is PersonRole.OWNER), people[0])
    words = debtor.full_name.split()
    addressed_as = " ".join(words[1:]) if len(words) > 1 else debtor.full_name
    lines = session.scalars(
        sa.select(DebtLine).where(DebtLine.account_id == account_id, DebtLine.debt > Decimal(0))
    ).all()
    by_service: dict[str, Decimal] = {}
    for line in lines:
        by_service[line.service] = by_service.get(line.service, Decimal(0)) + line.debt
    payment = session.scalars(
        sa.select(Payment)
        .where(Payment.account_id == account_id)
        .order_by(Payment.paid_on.desc(), Payment.id.desc())
        .limit(1)
    ).first()
    promises = session.scalars(sa.select(Promise).where(Promise.account_id == account_id)).all()
    address = account.address + (f", квартира {account.flat}" if account.flat else "")
    return AccountVariables(
        organisation=account.organisation.name,
        addressed_as=addressed_as,
        full_name=debtor.full_name,
        address=address,
        debt_total=sum(by_service.values(), Decimal(0)),
        debt_by_service=tuple(ServiceDebt(k, v) for k, v in sorted(by_service.items())),
        months_overdue=len({line.period for line in lines}),
        peni=sum((line.peni for line in lines), Decimal(0)),
        last_payment=LastPayment(payment.paid_on, payment.amount) if payment else None,
        promises=tuple(
            PastPromise(p.made_at.date(), p.due_on, p.amount, p.status is PromiseStatus.KEPT)
            for p in promises
        ),
    )


def render_parts(parts: tuple[Part, ...]) -> str:
    """A spoken line in Russian words, exactly as a live call renders it."""
    from dialer.session.phrasing import RussianPhrasing

    return RussianPhrasing().render(parts)


def _run(
    loaded: Script, variables: AccountVariables, classifier: TurnClassifier, today: dt.date
) -> Outcome:
    from classifier.contract import TurnContext
    from scripts.actions import End, Listen
    from scripts.engine import Conversation
    from scripts.events import CallAnswered

    conversation = Conversation(loaded, variables)
    click.echo(f"# Сценарий «{loaded.title}» ({loaded.name}), дата звонка {today.isoformat()}")
    pending: list[Action] = conversation.handle(CallAnswered())
    echo_input = not sys.stdin.isatty()
    while True:
        listen: Listen | None = None
        for action in pending:
            _print_action(action)
            if isinstance(action, End):
                return action.outcome
            if isinstance(action, Listen):
                listen = action
        if listen is None:  # the engine always ends or listens; guard against a silent stop
            raise click.ClickException(
                "сценарий остановился, не задав вопроса и не завершив звонок"
            )
        line = sys.stdin.readline()
        context = TurnContext(asked=listen.asked, today=today, debt=variables.debt_total)
        event = _event(line, listen, classifier, context, echo_input=echo_input)
        pending = conversation.handle(event)


def _event(
    line: str,
    listen: Listen,
    classifier: TurnClassifier,
    context: TurnContext,
    *,
    echo_input: bool,
) -> Event:
    from scripts.events import Dtmf, Heard, HungUp, MachineDetected, MachineKind, Silence

    if line == "":
        click.echo("Абонент: (кладёт трубку)")
        return HungUp()
    text = line.strip()
    command = text.lower()
    if command in ("", "/silence"):
        click.echo(f"Абонент: (молчит {listen.timeout_s:g} с)")
        return Silence(listen.timeout_s)
    if command.startswith("/dtmf"):
        digit = command.removeprefix("/dtmf").strip()
        click.echo(f"Абонент: (нажимает {digit})")
        return Dtmf(digit)
    if command == "/voicemail":
        click.echo("(автоответчик)")
        return MachineDetected(MachineKind.VOICEMAIL)
    if command == "/announcement":
        click.echo("(сообщение оператора связи)")
        return MachineDetected(MachineKind.ANNOUNCEMENT)
    if command == "/hangup":
        click.echo("Абонент: (кладёт трубку)")
        return HungUp()
    if echo_input:
        click.echo(f"Абонент: {text}")
    result = classifier.classify(text, context)
    tags = ", ".join(f"{tag.value} {conf:.2f}" for tag, conf in result.tags.items()) or "нет тегов"
    promise = ""
    if result.promise_date or result.promise_amount is not None:
        promise = f"; обещание: {result.promise_date or 'без даты'}, {result.promise_amount or 'без суммы'}"
    click.echo(f"         [{listen.asked.value}: {tags}{promise}]")
    return Heard(text, result)


def _print_action(action: Action) -> None:
    from scripts.actions import End, Escalate, Say, SendMessage, StopSpeaking

    match action:
        case Say(parts=parts):
            click.echo(f"Робот: {render_parts(parts)}")
        case Escalate(reason=reason, priority=priority, transfer=transfer):
            how = "соединить сейчас" if transfer else "в очередь специалистов"
            click.echo(f"         → специалисту: {reason}, приоритет {priority.value}, {how}")
        case SendMessage(kind=kind):
            click.echo(f"         → сообщение должнику: {kind.value}")
        case StopSpeaking() | End() | _:  # Listen is the prompt for the next stdin line
            pass


def _print_outcome(outcome: Outcome) -> None:
    click.echo(f"Итог: {outcome.kind.value} — {_OUTCOME_WORDS.get(outcome.kind.value, '')}")
    click.echo(f"  личность подтверждена: {'да' if outcome.identity_confirmed else 'нет'}")
    if outcome.phone_wrong:
        click.echo("  номер телефона: неверный")
    if outcome.promise is not None:
        p = outcome.promise
        state = "подтверждено" if p.confirmed else "не подтверждено"
        click.echo(
            f"  обещание: {p.amount or 'сумма не названа'} ₽ до {p.due or 'дата не названа'} ({state})"
        )
    if outcome.reasons:
        click.echo(f"  услышано: {', '.join(t.value for t in outcome.reasons)}")
    if outcome.escalation is not None:
        click.echo(
            f"  эскалация: {outcome.escalation.reason} ({outcome.escalation.priority.value})"
        )
    if outcome.machine:
        click.echo(f"  на линии: {outcome.machine}")
