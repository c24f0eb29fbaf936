"""``napomni campaign``: create, start, pause, stop, status and plan call campaigns."""

from __future__ import annotations

import datetime as dt
import json
import sys
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

import click

from napomni.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

__all__ = ["campaign"]


def _now(value: str | None) -> dt.datetime:
    if value is None:
        return dt.datetime.now(dt.UTC)
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError as err:
        raise click.BadParameter(
            f"{value!r}: ожидается ISO 8601, например 2026-11-23T10:00+03:00"
        ) from err
    if moment.tzinfo is None:
        raise click.BadParameter(f"{value!r}: укажите часовой пояс (+03:00 или Z)")
    return moment.astimezone(dt.UTC)


def _hours(value: str | None) -> tuple[dt.time | None, dt.time | None]:
    if not value:
        return None, None
    try:
        start, end = value.split("-")
        return dt.time.fromisoformat(start.strip()), dt.time.fromisoformat(end.strip())
    except ValueError as err:
        raise click.BadParameter(f"{value!r}: ожидается ЧЧ:ММ-ЧЧ:ММ") from err


def _factory(settings: Settings) -> sessionmaker[Session]:
    from storage.database import make_engine, make_session_factory

    engine = make_engine(settings.database_url)
    # Closed with the command: a pooled connection left to the garbage collector warns.
    click.get_current_context().call_on_close(engine.dispose)
    return make_session_factory(engine)


def _fail(err: Exception) -> click.ClickException:
    return click.ClickException(str(err))


@click.group(help="Кампании обзвона: создание, запуск, пауза, остановка, состояние, план.")
def campaign() -> None:
    pass


@campaign.command("create", help="Создать кампанию (черновик) по фильтру должников.")
@click.argument("name")
@click.option("--organisation", "-o", required=True, help="Название организации.")
@click.option("--script", required=True, help="Сценарий разговора (имя YAML-сценария).")
@click.option(
    "--starts",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="Первый день (по умолчанию сегодня).",
)
@click.option("--ends", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Последний день.")
@click.option(
    "--hours",
    default=None,
    help="Часы звонков по местному времени должника, ЧЧ:ММ-ЧЧ:ММ (внутри законных).",
)
@click.option("--thanks-script", default=None, help="Сценарий благодарности после оплаты.")
@click.option("--min-debt", default="0.01", help="Минимальный долг, ₽.")
@click.option("--min-months", type=int, default=1, help="Минимум месяцев с долгом.")
@click.option(
    "--building",
    "buildings",
    type=int,
    multiple=True,
    help="Только этот дом (id); можно несколько.",
)
@click.option("--service", default=None, help="Только долг по этой услуге.")
@click.option(
    "--segment",
    "segments",
    type=click.Choice(["green", "yellow", "red"]),
    multiple=True,
    help="Только этот сегмент (по чертам организации); можно несколько.",
)
@click.option(
    "--debtor-type",
    "debtor_types",
    type=click.Choice(["first_time", "holiday_gap", "single_service", "chronic", "other"]),
    multiple=True,
    help="Только этот тип должника; можно несколько.",
)
@click.option("--max-concurrent", type=int, default=8, help="Одновременных звонков не больше.")
@click.option("--per-minute", type=int, default=30, help="Новых звонков в минуту не больше.")
@click.option("--max-attempts", type=int, default=5, help="Попыток дозвона подряд не больше.")
@click.option(
    "--retry-minutes", type=int, default=180, help="Повтор после «не ответил» через, мин."
)
@click.option(
    "--rereminder-days",
    type=int,
    default=7,
    help="Повторное напоминание после разговора через, дней.",
)
@click.pass_obj
def create(
    settings: Settings, name: str, organisation: str, script: str, starts: dt.datetime | None,
    ends: dt.datetime | None, hours: str | None, thanks_script: str | None, min_debt: str,
    min_months: int, buildings: tuple[int, ...], service: str | None, segments: tuple[str, ...],
    debtor_types: tuple[str, ...], max_concurrent: int,
    per_minute: int, max_attempts: int, retry_minutes: int, rereminder_days: int,
) -> None:  # fmt: skip
    from dialer.campaigns.errors import CampaignError
    from dialer.campaigns.filters import AccountFilter
    from dialer.campaigns.service import CampaignSpec, create_campaign
    from dialer.segments import DebtorType, Segment

    daily_start, daily_end = _hours(hours)
    try:
        spec = CampaignSpec(
            organisation=organisation, name=name, script=script,
            starts_on=(starts.date() if starts else dt.date.today()),
            ends_on=ends.date() if ends else None, daily_start=daily_start, daily_end=daily_end,
            thanks_script=thanks_script,
            account_filter=AccountFilter(
                building_ids=buildings, service=service, min_debt=Decimal(min_debt),
                min_months_overdue=min_months, segments=tuple(Segment(v) for v in segments),
                debtor_types=tuple(DebtorType(v) for v in debtor_types),
            ),
            max_concurrent_calls=max_concurrent, max_new_per_minute=per_minute,
            max_attempts=max_attempts, retry_no_answer_min=retry_minutes,
            rereminder_days=rereminder_days,
        )  # fmt: skip
        with _factory(settings).begin() as session:
            created = create_campaign(session, spec, _now(None))
            click.echo(
                f"Кампания №{created.id} «{name}» создана (черновик). Запуск: napomni campaign start {created.id}"
            )
    except (CampaignError, InvalidOperation) as err:
        raise _fail(err) from err


def _simple(action: str):  # type: ignore[no-untyped-def]
    @click.argument("key", metavar="КАМПАНИЯ")
    @click.pass_obj
    def command(settings: Settings, key: str) -> None:
        from dialer.campaigns.errors import CampaignError
        from dialer.campaigns.service import (
            find_campaign,
            pause_campaign,
            start_campaign,
            stop_campaign,
        )

        now = _now(None)
        try:
            with _factory(settings).begin() as session:
                found = find_campaign(session, key)
                if action == "start":
                    report = start_campaign(session, found, now)
                    click.echo(
                        f"Кампания «{found.name}» запущена: в очереди {report.queued} ЛС, "
                        f"заняты другой кампанией {report.already_active}."
                    )
                elif action == "pause":
                    pause_campaign(session, found, now)
                    click.echo(f"Кампания «{found.name}» на паузе; текущие звонки завершатся.")
                else:
                    cancelled = stop_campaign(session, found, now)
                    click.echo(
                        f"Кампания «{found.name}» остановлена; снято из очереди: {cancelled}."
                    )
        except CampaignError as err:
            raise _fail(err) from err

    return command


campaign.command("start", help="Запустить (или продолжить после паузы): поставить ЛС в очередь.")(
    _simple("start")
)
campaign.command("pause", help="Пауза: новые звонки не начинаются.")(_simple("pause"))
campaign.command("stop", help="Остановить насовсем: снять ожидающие попытки.")(_simple("stop"))


@campaign.command("status", help="Попытки кампании по состояниям и исходам.")
@click.argument("key", metavar="КАМПАНИЯ")
@click.option("--json", "as_json", is_flag=True, help="Вывести JSON.")
@click.pass_obj
def status(settings: Settings, key: str, as_json: bool) -> None:
    from dialer.campaigns.errors import CampaignError
    from dialer.campaigns.service import campaign_status, find_campaign

    try:
        with _factory(settings)() as session:
            report = campaign_status(session, find_campaign(session, key))
    except CampaignError as err:
        raise _fail(err) from err
    if as_json:
        click.echo(json.dumps({"name": report.name, "status": report.status,
                               "attempts": report.attempts, "outcomes": report.outcomes},
                              ensure_ascii=False))  # fmt: skip
        return
    click.echo(f"Кампания «{report.name}»: {report.status}")
    for name, count in sorted(report.attempts.items()):
        click.echo(f"  попыток {name}: {count}")
    for name, count in sorted(report.outcomes.items()):
        click.echo(f"  исход {name}: {count}")


@campaign.command(
    "plan",
    help="Пробный прогон: кого бы взяли в работу в момент --now и почему остальных нет. Ничего не меняет.",
)
@click.argument("key", metavar="КАМПАНИЯ")
@click.option(
    "--now", "now_text", default=None, help="Момент ISO 8601 с поясом (по умолчанию сейчас)."
)
@click.option(
    "--json", "as_json", is_flag=True, help="JSON: звонки и каждый пропущенный ЛС с причиной."
)
@click.pass_obj
def plan(settings: Settings, key: str, now_text: str | None, as_json: bool) -> None:
    from dialer.campaigns.errors import CampaignError
    from dialer.campaigns.planning import left_out_rows, plan_campaign
    from dialer.campaigns.service import find_campaign
    from dialer.compliance import ProductionCalendar

    now = _now(now_text)
    calendar = ProductionCalendar()
    try:
        with _factory(settings)() as session:
            found = find_campaign(session, key)
            result = plan_campaign(session, found, now, calendar)
            if not as_json:
                click.echo(
                    f"Кампания «{found.name}» на {now.isoformat()}: взяли бы {len(result.claims)} (свободно мест {result.free_slots})"
                )
                for reason, count in sorted(result.left_out.items()):
                    click.echo(f"  пропущено, {reason}: {count}")
                return
            out = sys.stdout
            head = {
                "campaign": found.id,
                "now": now.isoformat(),
                "free_slots": result.free_slots,
                "claims": [
                    {
                        "attempt": c.attempt_id,
                        "account": c.account_id,
                        "due_at": c.due_at.isoformat(),
                    }
                    for c in result.claims
                ],
                "left_out_counts": result.left_out,
            }
            # Streamed: a million left-out accounts never sit in memory as one list.
            out.write(json.dumps(head, ensure_ascii=False)[:-1] + ', "left_out": [')
            for index, row in enumerate(left_out_rows(session, found, now, calendar)):
                out.write(
                    ("," if index else "")
                    + json.dumps(
                        {"account": row.account_id, "attempt": row.attempt_id, "reason": row.reason}
                    )
                )
            out.write("]}\n")
    except CampaignError as err:
        raise _fail(err) from err


@campaign.command(
    "decide-promises",
    help="Раз в день: решить обещания (выполнено / нарушено); нарушенное — звонок broken_promise один раз, затем взыскателю.",
)
@click.option(
    "--now",
    "now_text",
    default=None,
    help="Момент ISO 8601 с поясом (по умолчанию сейчас); дата — местная для каждого ЛС.",
)
@click.option("--organisation", "-o", default=None, help="Только обещания ЛС этой организации.")
@click.option(
    "--grace-days",
    type=click.IntRange(0, 60),
    default=3,
    show_default=True,
    help="Дней ожидания оплаты после обещанной даты.",
)
@click.pass_obj
def decide(
    settings: Settings, now_text: str | None, organisation: str | None, grace_days: int
) -> None:
    import sqlalchemy as sa

    from dialer.campaigns.promises import decide_promises
    from dialer.compliance import ProductionCalendar
    from storage.models import Organisation

    now = _now(now_text)
    with _factory(settings).begin() as session:
        organisation_id = None
        if organisation is not None:
            organisation_id = session.scalar(
                sa.select(Organisation.id).where(Organisation.name == organisation)
            )
            if organisation_id is None:
                raise click.ClickException(f"организация {organisation!r} не найдена")
        result = decide_promises(
            session, now=now, calendar=ProductionCalendar(), grace_days=grace_days,
            organisation_id=organisation_id,
        )  # fmt: skip
    click.echo(
        f"Обещания: выполнено {result.kept}, нарушено {result.broken}; звонков broken_promise "
        f"{result.broken_promise_calls}, передано взыскателю {result.escalated}."
    )
