"""The live half of ``napomni demo``: a small campaign called over real SIP on 127.0.0.1.

A local Kamailio (digest auth), six simulated debtors answering the soft reminder in
Russian (a promise, a dispute, a relative, voicemail, busy, and one who asks for a person —
connected live to the demo collector's phone, extension 201), the robot on baresip, the
campaigns engineer's worker claiming the attempts, the call session talking with real
recognition and the real classifier; a live console table (rich), then a summary.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import click

from napomni.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from dialer.session import Notice
    from napomni.commands.demo_debtors import Persona

__all__ = ["LiveBoard", "run_live_campaign"]

# The demo's calls happen "on" the demo day at noon in Moscow (a Monday, inside the legal
# window), whatever the wall clock says, so the demo runs at any hour.
DEMO_NOON_UTC = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
DEMO_BUILDING = "г. Тверь, ул. Песочная, д. 1 (демо-обзвон)"
# The demo organisation's payee (checked like any other: БИК, accounts' keys, ИНН), so the
# robot may promise the payment SMS and the message can be made and sent.
_DEMO_PAYEE = (
    "ООО «Управляющая компания»", "7707083893", "ПАО Сбербанк", "044525225",
    "40702810938000012345", "30101810400000000225",
)  # fmt: skip
_SMS_WAIT_S = 15.0


@dataclass
class _Row:
    title: str
    state: str = "ждёт"
    robot: str = ""
    debtor: str = ""
    outcome: str = ""
    latencies: list[int] = field(default_factory=list)


class LiveBoard:
    """The live console view: one row per debtor, updated from the session's notices."""

    def __init__(self, titles: dict[int, str]) -> None:
        self.rows = {account: _Row(title) for account, title in titles.items()}

    def notice(self, notice: Notice) -> None:
        """Update the row of the call (``call_ref`` is ``ЛС<account>/…``)."""
        account = int(notice.call_ref.split("/")[0].removeprefix("ЛС"))
        row = self.rows.get(account)
        if row is None:
            return
        match notice.kind:
            case "robot":
                row.robot = notice.text
                row.state = "прощается" if row.outcome else "говорит робот"
            case "debtor":
                tags = f" [{', '.join(notice.tags)}]" if notice.tags else ""
                row.state, row.debtor = "слушает", notice.text + tags
            case "event":
                if notice.latency_ms is not None:
                    row.latencies.append(notice.latency_ms)
                elif notice.text.startswith("итог:"):
                    row.state, row.outcome = "завершён", notice.text.removeprefix("итог:").strip()
                else:
                    row.state = notice.text

    def finish(self) -> None:
        """The campaign round is over: every call that has an outcome is finished."""
        for row in self.rows.values():
            if row.outcome:
                row.state = "завершён"

    def mark(self, account: int, state: str, outcome: str = "") -> None:
        """A state the session does not report (busy, not answered)."""
        row = self.rows[account]
        row.state = state
        row.outcome = outcome or row.outcome

    def render(self) -> object:
        """A rich table of the calls."""
        from rich.table import Table

        table = Table(title="Обзвон: робот ⇄ имитация должников (SIP на 127.0.0.1)")
        for name in ("должник", "состояние", "робот сказал", "абонент сказал", "итог"):
            table.add_column(name, overflow="fold")
        for row in self.rows.values():
            table.add_row(row.title, row.state, row.robot[-70:], row.debtor[-60:], row.outcome)
        return table


def _add_demo_accounts(
    factory: sessionmaker[Session], organisation: str, people: list[tuple[Persona, str]]
) -> tuple[int, dict[int, Persona]]:
    """A building with one account per persona (its phone is the debtor's SIP user)."""
    import sqlalchemy as sa

    from storage.models import Account, Building, DebtLine, Organisation, Person, Phone

    with factory.begin() as session:
        org = session.scalars(
            sa.select(Organisation).where(Organisation.name == organisation)
        ).one()
        building = Building(organisation_id=org.id, address=DEMO_BUILDING)
        session.add(building)
        session.flush()
        accounts: dict[int, Persona] = {}
        for number, (persona, user) in enumerate(people, start=1):
            account = Account(
                organisation_id=org.id,
                building_id=building.id,
                number=f"ДЕМО-{number:03d}",
                address=DEMO_BUILDING,
                flat=str(number),
            )
            session.add(account)
            session.flush()
            person = Person(account_id=account.id, full_name=persona.full_name)
            session.add(person)
            session.flush()
            session.add(Phone(account_id=account.id, person_id=person.id, number=user))
            for month, amount in (
                (dt.date(2026, 9, 1), "2150.40"),
                (dt.date(2026, 10, 1), "2330.10"),
            ):
                session.add(
                    DebtLine(
                        organisation_id=org.id,
                        account_id=account.id,
                        service="содержание и ремонт",
                        period=month,
                        charged=Decimal(amount),
                        debt=Decimal(amount),
                    )
                )
            accounts[account.id] = persona
        return building.id, accounts


def _add_demo_collector(factory: sessionmaker[Session], organisation: str) -> int:
    """The demo's collector: extension 201, «на линии» (no password: not a web login)."""
    import sqlalchemy as sa

    from napomni.commands.demo_debtors import COLLECTOR_EXTENSION, demo_collector
    from storage.collectors import set_extension, set_line_status
    from storage.models import Organisation
    from storage.models.users import LineStatus, User, UserOrganisation, UserRole

    with factory.begin() as session:
        org_id = session.scalars(
            sa.select(Organisation.id).where(Organisation.name == organisation)
        ).one()
        user = User(
            login="demo-collector",
            display_name=demo_collector().full_name,
            password_hash="!",  # no argon2 hash: nobody signs in as the demo's collector
            role=UserRole.COLLECTOR,
            active=True,
            session_epoch=0,
        )
        user.organisations = [UserOrganisation(organisation_id=org_id)]
        session.add(user)
        session.flush()
        set_extension(session, user.id, COLLECTOR_EXTENSION)
        set_line_status(session, user.id, LineStatus.ONLINE, DEMO_NOON_UTC)
        return user.id


def _campaign(factory: sessionmaker[Session], organisation: str, building_id: int) -> int:
    from dialer.campaigns.filters import AccountFilter
    from dialer.campaigns.service import CampaignSpec, create_campaign, start_campaign

    with factory.begin() as session:
        campaign = create_campaign(
            session,
            CampaignSpec(
                organisation=organisation,
                name="Демо: мягкое напоминание",
                script="soft_reminder",
                starts_on=DEMO_NOON_UTC.date(),
                account_filter=AccountFilter(building_ids=(building_id,)),
                max_concurrent_calls=5,
                max_new_per_minute=60,
            ),
            DEMO_NOON_UTC,
        )
        start_campaign(session, campaign, DEMO_NOON_UTC)
        return campaign.id


def _calls_done(factory: sessionmaker[Session], accounts: list[int]) -> int:
    import sqlalchemy as sa

    from storage.models.campaigns import Attempt, AttemptStatus, Call

    with factory() as session:
        ended = session.scalar(
            sa.select(sa.func.count(sa.distinct(Call.account_id))).where(
                Call.account_id.in_(accounts), Call.ended_at.is_not(None)
            )
        )
        claimed = session.scalar(
            sa.select(sa.func.count()).where(
                Attempt.account_id.in_(accounts), Attempt.status == AttemptStatus.CLAIMED
            )
        )
    return int(ended or 0) if not claimed else -1


def _demo_payee(factory: sessionmaker[Session], organisation: str) -> None:
    import sqlalchemy as sa

    from dialer.messages import Payee
    from dialer.messages.payees import MessageSettings, save_message_settings
    from storage.models import Organisation

    with factory.begin() as session:
        org_id = session.scalars(
            sa.select(Organisation.id).where(Organisation.name == organisation)
        ).one()
        save_message_settings(session, org_id, MessageSettings(Payee(*_DEMO_PAYEE)))


@dataclass(frozen=True, slots=True)
class SentSms:
    """A message of the demo as the gateway's SMSC received it (shown on the console)."""

    to: str
    text: str
    parts: int


@dataclass(frozen=True, slots=True)
class LiveSummary:
    """What the demo campaign did."""

    calls: int
    outcomes: dict[str, int]
    promises: list[tuple[str, dt.date, Decimal | None]]
    escalations: list[tuple[str, list[str]]]
    latencies_ms: list[int]
    first_words_ms: list[int] = field(default_factory=list)
    messages: list[SentSms] = field(default_factory=list)
    messages_note: str = ""
    transfers: list[str] = field(default_factory=list)


def _summary(factory: sessionmaker[Session], accounts: dict[int, Persona]) -> LiveSummary:
    import sqlalchemy as sa

    from storage.models.campaigns import Call, EscalationCase, Promise, Turn

    ids = list(accounts)
    with factory() as session:
        calls = session.scalars(sa.select(Call).where(Call.account_id.in_(ids))).all()
        outcomes: dict[str, int] = {}
        for call in calls:
            key = call.outcome or "—"
            outcomes[key] = outcomes.get(key, 0) + 1
        promises = [
            (accounts[p.account_id].title, p.due_on, p.amount)
            for p in session.scalars(sa.select(Promise).where(Promise.account_id.in_(ids)))
        ]
        escalations = [
            (accounts[c.account_id].title, list(c.reasons))
            for c in session.scalars(
                sa.select(EscalationCase).where(EscalationCase.account_id.in_(ids))
            )
        ]
        latencies = [
            x
            for x in session.scalars(
                sa.select(Turn.latency_ms)
                .join(Call, Call.id == Turn.call_id)
                .where(Call.account_id.in_(ids), Turn.latency_ms.is_not(None))
            )
            if x is not None
        ]
        transfers = _transfer_lines(session, accounts)
    first_words = [c.first_word_ms for c in calls if c.first_word_ms is not None]
    return LiveSummary(
        len(calls), outcomes, promises, escalations, latencies, first_words, transfers=transfers
    )


_TRANSFER_STATES = {
    "ended": "соединён",
    "no_collector": "свободных специалистов нет",
    "no_answer": "специалист не ответил",
    "abandoned": "должник не дождался",
    "refused": "перевод отклонён",
    "failed": "ошибка перевода",
}
_TRANSFER_ENDS = {
    "collector_hung_up": "первым положил трубку специалист",
    "debtor_hung_up": "первым положил трубку должник",
    "rtp_lost_debtor": "пропал звук должника",
    "rtp_lost_collector": "пропал звук специалиста",
    "handed_over": "звонок передан (REFER)",
}


def _transfer_lines(session: Session, accounts: dict[int, Persona]) -> list[str]:
    """One line per live transfer: to whom, how long the debtor waited, how it ended."""
    import sqlalchemy as sa

    from storage.models.campaigns import EscalationCase
    from storage.models.transfers import Transfer
    from storage.models.users import User

    lines = []
    for transfer in session.scalars(
        sa.select(Transfer).where(Transfer.account_id.in_(list(accounts))).order_by(Transfer.id)
    ):
        state = transfer.state.value
        text = f"{accounts[transfer.account_id].title}: {_TRANSFER_STATES.get(state, state)}"
        collector = session.get(User, transfer.collector_user_id or 0)
        if collector is not None:
            text += f" — {collector.display_name} (доб. {transfer.extension})"
        if transfer.wait_ms is not None:
            text += f", ожидание {transfer.wait_ms / 1000:.1f} с"
        if transfer.method is not None:
            text += ", через робота" if transfer.method.value == "bridge" else ", REFER"
        if transfer.end_reason in _TRANSFER_ENDS:
            text += f"; {_TRANSFER_ENDS[transfer.end_reason]}"
        case = session.get(EscalationCase, transfer.escalation_id or 0)
        if case is not None and case.assignee is not None and collector is not None:
            text += f"; обращение №{case.id} — у специалиста"
        lines.append(text)
    return lines


def _percentile(values: list[int], q: float) -> int:
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    return round(statistics.quantiles(ordered, n=100, method="inclusive")[int(q) - 1])


def print_summary(summary: LiveSummary) -> None:
    """The demo's closing figures."""
    click.echo("")
    click.echo(f"Звонков: {summary.calls}")
    click.echo("Исходы: " + ", ".join(f"{k} — {v}" for k, v in sorted(summary.outcomes.items())))
    for title, due, amount in summary.promises:
        click.echo(f"Обещание ({title}): {amount or 'весь долг'} до {due.isoformat()}")
    for title, reasons in summary.escalations:
        click.echo(f"Эскалация ({title}): {', '.join(reasons)}")
    for line in summary.transfers:
        click.echo(f"Перевод на специалиста ({line})")
    if summary.first_words_ms:
        click.echo(
            f"Первое слово робота после ответа, мс: "
            f"p50 {_percentile(summary.first_words_ms, 50)}, "
            f"p95 {_percentile(summary.first_words_ms, 95)}, "
            f"макс. {max(summary.first_words_ms)} (по {len(summary.first_words_ms)} звонкам)"
        )
    if summary.latencies_ms:
        click.echo(
            f"Задержка ответа робота (конец речи → первый звук), мс: "
            f"p50 {_percentile(summary.latencies_ms, 50)}, "
            f"p95 {_percentile(summary.latencies_ms, 95)} "
            f"(по {len(summary.latencies_ms)} репликам)"
        )
    for sms in summary.messages:
        # The operator's console, not a log: the demo shows what the debtor's phone gets.
        click.echo(f"СМС на {sms.to} ({sms.parts} ч.), как его получил SMSC шлюза: {sms.text}")
    if summary.messages_note:
        click.echo(summary.messages_note)


async def _run(
    settings: Settings,
    url: str,
    directory: Path,
    organisation: str,
    board_factory: Callable[[dict[int, str]], LiveBoard],
) -> LiveSummary:
    from rich.live import Live

    from dialer.runner import SessionCallRunner
    from dialer.sandbox.debtor_pool import DebtorPool
    from dialer.sandbox.kamailio import Kamailio, KamailioOptions
    from dialer.sandbox.ports import free_udp_range
    from dialer.session import CallSession, SessionConfig
    from dialer.session.store import SqlCallLog
    from dialer.worker import Worker, WorkerConfig
    from napomni.commands.call import build_session_parts, configured_telephone, sip_config
    from napomni.commands.demo_debtors import (
        COLLECTOR_EXTENSION,
        demo_collector,
        personas,
        spec_for,
    )
    from storage.database import make_engine, make_session_factory

    engine = make_engine(url)
    factory = make_session_factory(engine)
    voices = settings.data_dir / "cache" / "debtor-voices"
    cast = [(p, f"7999000{n:04d}") for n, p in enumerate(personas(DEMO_NOON_UTC.date()), 1)]
    click.echo("Голоса должников (Festival, кэшируются)…")
    # The collector's phone is one more sandbox user agent: extension 201, no account.
    staff = [(demo_collector(), COLLECTOR_EXTENSION)]
    specs = await asyncio.to_thread(
        lambda: [spec_for(p, user, voices) for p, user in [*cast, *staff]]
    )
    building, accounts = await asyncio.to_thread(_add_demo_accounts, factory, organisation, cast)
    await asyncio.to_thread(_add_demo_collector, factory, organisation)
    await asyncio.to_thread(_demo_payee, factory, organisation)
    campaign = await asyncio.to_thread(_campaign, factory, organisation, building)
    board = board_factory({a: p.title for a, p in accounts.items()})
    click.echo("Модели: распознавание, классификатор…")
    parts = await asyncio.to_thread(
        build_session_parts, settings, SqlCallLog(factory, store_promises=False)
    )
    session = CallSession(parts, SessionConfig(record_dir=directory / "recordings"), observer=board)
    kamailio = Kamailio(directory / "sip" / "kamailio", KamailioOptions())
    started = time.monotonic()

    def demo_clock() -> dt.datetime:
        return DEMO_NOON_UTC + dt.timedelta(seconds=time.monotonic() - started)

    try:
        await asyncio.to_thread(kamailio.start)
        pool = DebtorPool(directory / "sip" / "debtors", kamailio.address,
                          kamailio.options.password, specs)  # fmt: skip
        try:
            await asyncio.to_thread(pool.start)
            rtp_min, rtp_max = free_udp_range(24)
            config = sip_config(
                settings,
                registrar=kamailio.address,
                user="robot",
                password=kamailio.options.password,
                rtp_port_min=rtp_min,
                rtp_port_max=rtp_max,
                local_address="127.0.0.1",
                max_concurrent_calls=6,  # five debtors at once and a collector's leg
                register=True,
            )
            async with configured_telephone(settings, config) as telephone:
                runner = SessionCallRunner(telephone, session, factory, clock=demo_clock)
                worker = Worker(
                    factory,
                    runner,
                    WorkerConfig(
                        worker_id="demo",
                        concurrency=5,
                        poll_interval_s=0.5,
                        campaign_ids=frozenset({campaign}),
                    ),
                    clock=demo_clock,
                )
                stop = asyncio.Event()
                work = asyncio.create_task(worker.run(stop))
                with Live(board.render(), refresh_per_second=4) as live:  # type: ignore[arg-type]
                    deadline = time.monotonic() + 600
                    while time.monotonic() < deadline and not work.done():
                        live.update(board.render())  # type: ignore[arg-type]
                        done = await asyncio.to_thread(_calls_done, factory, list(accounts))
                        if done == len(accounts):
                            break
                        await asyncio.sleep(0.5)
                    stop.set()
                    await work
                    board.finish()
                    live.update(board.render())  # type: ignore[arg-type]
        finally:
            await asyncio.to_thread(pool.stop)
    finally:
        await asyncio.to_thread(kamailio.stop)
        # Its voice bank's threads and recognition workers: a Ctrl-C mid-rendering left
        # hundreds of number words queued, and interpreter exit waited for all of them.
        session.close()
    summary = await asyncio.to_thread(_summary, factory, accounts)
    sent, note = await _send_messages(settings, factory, directory)
    engine.dispose()
    return dataclasses.replace(summary, messages=sent, messages_note=note)


async def _send_messages(
    settings: Settings, factory: sessionmaker[Session], directory: Path
) -> tuple[list[SentSms], str]:
    """Send what the calls queued through a local Kannel and its fake SMSC; what arrived.

    The real sender and gateway adapter, as ``napomni messages send`` runs them; only the
    operator's SMSC is Kannel's fake one on 127.0.0.1. The sender keeps the wall clock (the
    calls' ends are stored by it): run at night, the message waits for the debtor's hours,
    as it would for real.
    """
    from dialer.messages import KannelConfig, KannelGateway, Sender, SenderConfig, outbox_counts
    from dialer.messages.kannel_lab import KannelLab, LabError, kannel_available

    if not kannel_available():
        return [], "СМС: нет Kannel (apt-get install kannel kannel-extras) — остались в очереди."
    lab = KannelLab(directory / "sms" / "kannel")
    try:
        await asyncio.to_thread(lab.start)
        gateway = KannelGateway(KannelConfig(lab.sendsms_url, lab.username, lab.password))
        sender = Sender(
            factory,
            gateway,
            SenderConfig(worker_id="demo", page_base_url=settings.sms.public_url),
        )
        try:
            counts = await sender.send_due()
        finally:
            await gateway.close()
        expected = counts.get("sent", 0)
        deadline = time.monotonic() + _SMS_WAIT_S
        received = lab.received()
        while len(received) < expected and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            received = lab.received()
    except LabError as err:
        return [], f"СМС: шлюз не запустился ({err}) — сообщения остались в очереди."
    finally:
        await asyncio.to_thread(lab.stop)
    if not counts:
        with factory() as session:
            waiting = outbox_counts(session).get("queued", 0)
        if waiting:
            return [], f"СМС: {waiting} ждут в очереди времени, когда должнику можно писать."
        return [], "СМС: в очереди нет сообщений."
    note = "СМС: " + ", ".join(f"{k} — {v}" for k, v in sorted(counts.items()))
    return [SentSms(r.to, r.text, r.parts) for r in received], note


def run_live_campaign(settings: Settings, url: str, directory: Path, organisation: str) -> None:
    """Run the demo's live campaign and print its summary."""
    from dialer.sandbox.errors import SandboxError
    from dialer.telephony.errors import TelephonyError

    try:
        summary = asyncio.run(_run(settings, url, directory, organisation, LiveBoard))
    except (SandboxError, TelephonyError) as err:
        raise click.ClickException(f"живой обзвон не запустился: {err}") from err
    print_summary(summary)
