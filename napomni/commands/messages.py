"""``napomni messages``: the sender, the outbox's state, retries, payees and opt-outs."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from typing import TYPE_CHECKING

import click

from napomni.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from dialer.messages import KannelGateway, SmsGateway

__all__ = ["messages", "kannel_gateway", "sms_gateway"]


def kannel_gateway(settings: Settings) -> KannelGateway:
    """The Kannel gateway of the settings; delivery reports to ``napomni serve``."""
    from dialer.messages import KannelConfig, KannelGateway

    sms = settings.sms
    dlr = f"{sms.public_url}/messages/dlr/{sms.dlr_token}" if sms.dlr_token else None
    return KannelGateway(
        KannelConfig(sms.kannel_url, sms.kannel_user, sms.kannel_password, dlr_url=dlr)
    )


def sms_gateway(settings: Settings, factory: sessionmaker[Session]) -> SmsGateway:
    """The gateway ``NAPOMNI_SMS_GATEWAY`` names: Kannel, or an SMSC over SMPP whose
    delivery receipts are stored in the outbox through ``factory``."""
    if settings.sms.gateway != "smpp":
        return kannel_gateway(settings)
    from dialer.messages.smpp import OutboxReceipts, SmppConfig, SmppGateway

    sms = settings.sms
    config = SmppConfig(
        host=sms.smpp_host,
        port=sms.smpp_port,
        system_id=sms.smpp_system_id,
        password=sms.smpp_password,
        system_type=sms.smpp_system_type,
        bind="transmitter" if sms.smpp_bind == "transmitter" else "transceiver",
    )
    return SmppGateway(config, receipts=OutboxReceipts(factory))


@click.group(help="СМС после звонков: отправка, состояние очереди, повтор, реквизиты, отказы.")
def messages() -> None:
    pass


@messages.command(
    help="Отправлять сообщения из очереди через шлюз NAPOMNI_SMS_GATEWAY: Kannel или SMSC "
    "по SMPP (до SIGTERM/Ctrl+C)."
)
@click.option("--once", is_flag=True, help="Один проход по очереди и выход.")
@click.pass_obj
def send(settings: Settings, once: bool) -> None:
    from dialer.messages import Sender, SenderConfig
    from storage.database import make_engine, make_session_factory

    factory = make_session_factory(make_engine(settings.database_url))
    config = SenderConfig(
        worker_id=f"{socket.gethostname()}:{os.getpid()}", page_base_url=settings.sms.public_url
    )

    async def main() -> None:
        gateway = sms_gateway(settings, factory)
        sender = Sender(factory, gateway, config)
        try:
            if once:
                counts = await sender.send_due()
                click.echo(", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) or "нечего")
                return
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
            await sender.run(stop)
        finally:
            await gateway.close()

    if not once:
        click.echo(f"Отправитель {config.worker_id}: очередь сообщений; остановка — SIGTERM.")
    asyncio.run(main())


@messages.command(help="Сколько сообщений в каком состоянии; последние сообщения без текста.")
@click.option("--last", type=click.IntRange(0, 1000), default=10, show_default=True)
@click.pass_obj
def status(settings: Settings, last: int) -> None:
    import sqlalchemy as sa

    from dialer.messages import outbox_counts
    from storage.database import make_engine, make_session_factory
    from storage.models.messages import OutboxMessage

    factory = make_session_factory(make_engine(settings.database_url))
    with factory() as session:
        counts = outbox_counts(session)
        click.echo(
            "Сообщения: "
            + (", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "нет ни одного")
        )
        rows = session.scalars(
            sa.select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(last)
        ).all()
        for m in rows:
            click.echo(
                f"  #{m.id} ЛС id {m.account_id} звонок {m.call_id} {m.status.value}"
                f"{' (' + m.reason + ')' if m.reason else ''}"
                f"{' код ' + m.error_code if m.error_code else ''} попыток {m.tries}"
                f" страница открыта {m.page_opens}"
            )


@messages.command(help="Вернуть в очередь не доставленные сообщения (все или эти id).")
@click.argument("message_ids", type=int, nargs=-1)
@click.pass_obj
def retry(settings: Settings, message_ids: tuple[int, ...]) -> None:
    from dialer.messages import retry_failed
    from storage.database import make_engine, make_session_factory
    from storage.models import utc_now

    factory = make_session_factory(make_engine(settings.database_url))
    with factory.begin() as session:
        count = retry_failed(session, utc_now(), list(message_ids) or None)
    click.echo(f"Возвращено в очередь: {count}")


@messages.command("opt-out", help="Должник отказался от СМС: не присылать на счёт (или номер).")
@click.argument("account_id", type=int)
@click.option("--phone-id", type=int, default=None, help="Только этот номер (id).")
@click.pass_obj
def opt_out(settings: Settings, account_id: int, phone_id: int | None) -> None:
    from dialer.messages import record_opt_out
    from storage.database import make_engine, make_session_factory
    from storage.models import utc_now

    factory = make_session_factory(make_engine(settings.database_url))
    with factory.begin() as session:
        record_opt_out(session, account_id, phone_id, "manual", utc_now())
    click.echo("Отказ от сообщений записан.")


@messages.command(help="Реквизиты получателя и шаблон СМС организации (проверяются).")
@click.argument("organisation")
@click.option("--name", required=True, help="Получатель платежа.")
@click.option("--inn", required=True)
@click.option("--kpp", default=None)
@click.option("--bank", "bank_name", required=True, help="Название банка.")
@click.option("--bic", required=True)
@click.option("--account", "settlement_account", required=True, help="Расчётный счёт.")
@click.option("--corr", "correspondent_account", required=True, help="Корр. счёт банка.")
@click.option("--template", default="", help="Текст СМС: {payee} {account} {amount} {due} {link}.")
@click.option("--sender", default="Napomni", show_default=True, help="Имя отправителя СМС.")
@click.option("--link-days", type=click.IntRange(1, 365), default=30, show_default=True)
@click.pass_obj
def payee(
    settings: Settings,
    organisation: str,
    name: str,
    inn: str,
    kpp: str | None,
    bank_name: str,
    bic: str,
    settlement_account: str,
    correspondent_account: str,
    template: str,
    sender: str,
    link_days: int,
) -> None:
    import sqlalchemy as sa

    from dialer.messages import MessageError, Payee
    from dialer.messages.payees import MessageSettings, save_message_settings
    from storage.database import make_engine, make_session_factory
    from storage.models import Organisation

    try:
        checked = MessageSettings(
            Payee(
                name, inn, bank_name, bic, settlement_account, correspondent_account, kpp or None
            ),
            template,
            sender,
            link_days,
        )
    except MessageError as err:
        raise click.ClickException(str(err)) from err
    factory = make_session_factory(make_engine(settings.database_url))
    with factory.begin() as session:
        org_id = session.scalar(sa.select(Organisation.id).where(Organisation.name == organisation))
        if org_id is None:
            raise click.ClickException(f"нет организации «{organisation}»")
        save_message_settings(session, org_id, checked)
    click.echo(f"Реквизиты «{organisation}» сохранены.")


@messages.command(
    "lab",
    help="Локальный шлюз для проверки: Kannel с поддельным SMSC на 127.0.0.1; печатает, "
    "что SMSC получил (до Ctrl+C).",
)
@click.option("--seconds", type=float, default=None, help="Остановиться через столько секунд.")
@click.pass_obj
def lab(settings: Settings, seconds: float | None) -> None:
    import time

    from dialer.messages.kannel_lab import KannelLab, LabError

    gateway = KannelLab(settings.data_dir / "kannel-lab")
    try:
        gateway.start()
    except LabError as err:
        gateway.stop()
        raise click.ClickException(str(err)) from err
    try:
        click.echo("Шлюз готов. Для отправителя (napomni messages send):")
        click.echo(f"  export NAPOMNI_SMS_KANNEL_URL={gateway.sendsms_url}")
        click.echo(f"  export NAPOMNI_SMS_KANNEL_USER={gateway.username}")
        click.echo(f"  export NAPOMNI_SMS_KANNEL_PASSWORD={gateway.password}")
        shown = 0
        deadline = time.monotonic() + seconds if seconds is not None else None
        while deadline is None or time.monotonic() < deadline:
            received = gateway.received()
            for sms in received[shown:]:
                # The operator's console, not a log: the demo shows what the debtor gets.
                click.echo(f"SMSC получил ({sms.parts} ч.) от {sms.sender}: {sms.text}")
            shown = len(received)
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        gateway.stop()
