"""``napomni bench messages``: messages per second through the outbox to a real Kannel.

A fresh SQLite database (or ``--database-url``) gets N debtors of one organisation and N
calls that ended with a promise; each call's end writes its message (the outbox, with the
230-ФЗ checks); the sender then drains the outbox into a local Kannel whose fake SMSC
receives them. Figures: messages written per second, accepted by the gateway per second,
and received by the SMSC per second (all from the start of sending).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
import time
from decimal import Decimal

import click

from napomni.settings import Settings

__all__ = ["bench_messages"]

# A Monday noon in Moscow: inside the legal hours, so nothing waits for the morning.
_NOON = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)


def _build(url: str, count: int) -> list[int]:
    import sqlalchemy as sa

    from storage.database import make_engine, make_session_factory
    from storage.models import Account, Organisation, Phone
    from storage.models.campaigns import Call
    from storage.models.messages import OrganisationPayee

    engine = make_engine(url)
    factory = make_session_factory(engine)
    with factory.begin() as session:
        name = f"bench-messages-{time.time_ns()}"
        organisation = Organisation(name=name)
        session.add(organisation)
        session.flush()
        session.add(
            OrganisationPayee(
                organisation_id=organisation.id,
                name="ООО «УК Замер»",
                inn="7707083893",
                bank_name="ПАО Сбербанк",
                bic="044525225",
                settlement_account="40702810938000012345",
                correspondent_account="30101810400000000225",
                sender="UKbench",
                template="",
                link_ttl_days=30,
            )
        )
        session.execute(
            sa.insert(Account),
            [
                {"organisation_id": organisation.id, "number": f"B{i:08d}", "address": ""}
                for i in range(count)
            ],
        )
        ids = list(
            session.scalars(
                sa.select(Account.id)
                .where(Account.organisation_id == organisation.id)
                .order_by(Account.id)
            )
        )
        session.execute(
            sa.insert(Phone),
            [{"account_id": a, "number": f"+7916{i:07d}"} for i, a in enumerate(ids)],
        )
        phones = dict(
            session.execute(sa.select(Phone.account_id, Phone.id).where(Phone.account_id.in_(ids)))
            .tuples()
            .all()
        )
        session.execute(
            sa.insert(Call),
            [
                {"account_id": a, "phone_id": phones[a], "script": "bench", "started_at": _NOON}
                for a in ids
            ],
        )
        calls = list(
            session.scalars(sa.select(Call.id).where(Call.account_id.in_(ids)).order_by(Call.id))
        )
    engine.dispose()
    return calls


@click.command("messages", help="СМС: сообщений в секунду из очереди в Kannel (локальный шлюз).")
@click.option("--count", type=click.IntRange(1, 100_000), default=1000, show_default=True)
@click.option("--in-flight", type=click.IntRange(1, 256), default=16, show_default=True)
@click.option("--database-url", default=None, help="По умолчанию — новая база SQLite.")
@click.pass_obj
def bench_messages(
    settings: Settings, count: int, in_flight: int, database_url: str | None
) -> None:
    from dialer.campaigns import call_log
    from dialer.messages import KannelConfig, KannelGateway, MessageRequest, Sender, SenderConfig
    from dialer.messages.kannel_lab import KannelLab, kannel_available
    from napomni.commands.db import quiet_migration_log
    from storage.database import make_engine, make_session_factory, upgrade_to_heads

    if not kannel_available():
        raise click.ClickException("нет Kannel: apt-get install kannel kannel-extras")
    quiet_migration_log(settings)
    directory = settings.data_dir / "bench-messages"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    url = database_url or f"sqlite:///{directory / 'bench.db'}"
    upgrade_to_heads(url)
    calls = _build(url, count)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    request = MessageRequest(("payment_link",), Decimal("3500.50"), dt.date(2026, 11, 30))
    started = time.perf_counter()
    for call_id in calls:
        call_log.close_call(factory, call_id, ended_at=_NOON, outcome="promise", message=request)
    written_s = time.perf_counter() - started
    click.echo(f"записано в очередь: {count} за {written_s:.2f} с — {count / written_s:.0f} в с")

    lab = KannelLab(directory / "kannel")
    try:
        lab.start()
        gateway = KannelGateway(KannelConfig(lab.sendsms_url, lab.username, lab.password))
        config = SenderConfig(
            worker_id="bench",
            page_base_url="https://pay.example",
            batch=200,
            max_in_flight=in_flight,
        )
        sender = Sender(factory, gateway, config, clock=lambda: _NOON + dt.timedelta(minutes=1))

        async def drain() -> int:
            sent = 0
            try:
                while counts := await sender.send_due():
                    sent += counts.get("sent", 0)
            finally:
                await gateway.close()
            return sent

        started = time.perf_counter()
        sent = asyncio.run(drain())
        accepted_s = time.perf_counter() - started
        deadline = time.monotonic() + 60
        while len(lab.received()) < sent and time.monotonic() < deadline:
            time.sleep(0.1)
        arrived = len(lab.received())
        arrived_s = time.perf_counter() - started
    finally:
        lab.stop()
        engine.dispose()
        if database_url is None:
            shutil.rmtree(directory, ignore_errors=True)
    click.echo(
        f"принято шлюзом: {sent} за {accepted_s:.2f} с — {sent / accepted_s:.0f} сообщений/с "
        f"(одновременно {in_flight})"
    )
    click.echo(
        f"получено SMSC: {arrived} за {arrived_s:.2f} с — {arrived / arrived_s:.0f} сообщений/с"
    )
