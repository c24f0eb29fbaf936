"""``napomni call NUMBER --script NAME --account ID``: one live call, printed as it happens.

Also the place where the live-call parts are built from the settings (the recogniser, the
classifier, the voice, the SIP telephone), so that ``napomni demo``, ``napomni worker`` and
``napomni bench calls`` wire them the same way.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypeAlias

import click

from napomni.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from dialer.metrics import CallMetrics
    from dialer.runner import SessionCallRunner
    from dialer.session import CallReport, Notice, SessionParts
    from dialer.session.ports import CallLog
    from dialer.telephony.baresip import BaresipTelephone
    from dialer.telephony.config import SipConfig
    from dialer.telephony.port import Call
    from dialer.telephony.pyvoip import PyVoipTelephone
    from dialer.telephony.remote import ProcessTelephone
    from speech.recognition import RecognitionEngine

    ConfiguredTelephone: TypeAlias = BaresipTelephone | ProcessTelephone | PyVoipTelephone

__all__ = [
    "ConsoleObserver",
    "StartedOnFirstDial",
    "build_call_runner",
    "configured_telephone",
    "build_session_parts",
    "call",
    "load_recognizer",
    "start_recognizer",
    "sip_config",
]

logger = logging.getLogger(__name__)


def load_recognizer(
    settings: Settings, engine: str = "auto", calls: int | None = None
) -> RecognitionEngine:
    """The Russian engine available: Vosk when a Russian model is found, else Whisper.

    ``engine`` "vosk" or "whisper" insists on one (``napomni bench calls --engine``). The
    model runs in ``settings.speech_processes`` worker processes, so decoding never takes the
    CPU the calls' SIP, RTP and dialogue need (0: in this process, in threads).
    Loading takes seconds of CPU; call it from a worker thread in async code.
    """
    from speech.errors import ModelNotFound
    from speech.models import resolve_vosk_model, resolve_whisper_model

    search = settings.model_search_path()
    if engine in ("auto", "vosk"):
        try:
            return start_recognizer(
                settings, "vosk", resolve_vosk_model(settings.vosk_model, search)
            )
        except ModelNotFound as err:
            if engine == "vosk":
                raise click.ClickException(str(err)) from err
            logger.info("no Russian Vosk model: live recognition uses Whisper (slower)")
    try:
        model = resolve_whisper_model(settings.whisper_model, search)
    except ModelNotFound as err:
        raise click.ClickException(f"Нет модели распознавания русской речи. {err}") from err
    return start_recognizer(settings, "whisper", model, calls)


def start_recognizer(
    settings: Settings, kind: Literal["vosk", "whisper"], model: Path, calls: int | None = None
) -> RecognitionEngine:
    """The engine for ``model``: in worker processes, or here when ``speech_processes`` is 0.

    ``calls``: how many calls it serves at once (the SIP limit when not given); Vosk
    recognisers for half of them are warmed before it is ready.
    """
    from speech.errors import RecognitionError
    from speech.workers import EngineRecipe, RecognitionWorkers, warm_recognizers

    processes = settings.speech_processes
    # Two Whisper decoders per process when there is one process (as before workers); one
    # each when the processes already give one decode per core.
    calls = calls or settings.sip.max_concurrent_calls
    recipe = EngineRecipe(
        kind,
        model,
        decoders=1 if processes > 1 else 2,
        # Recognisers serve utterances, not calls: a worker needs as many as its calls'
        # debtors speak at once — about half its share of the calls, the robot talking the rest.
        warm=-(-calls // (2 * max(processes, 1))),
    )
    try:
        if processes == 0:
            engine = recipe.load()
            warm_recognizers(engine, recipe.warm)
            return engine
        return RecognitionWorkers.start(recipe, processes)
    except RecognitionError as err:
        raise click.ClickException(str(err)) from err


def build_session_parts(
    settings: Settings, log: CallLog | None, recognizer: RecognitionEngine | None = None
) -> SessionParts:
    """Recogniser, classifier, voice and phrasing for live calls (seconds to load)."""
    from classifier.errors import ClassifierError
    from classifier.model import load_classifier
    from dialer.session import SessionParts
    from dialer.session.phrasing import RussianPhrasing, SynthesizerVoice

    try:
        classifier = load_classifier(settings.models_dir)
    except ClassifierError as err:
        raise click.ClickException(str(err)) from err
    return SessionParts(
        recognizer=recognizer or load_recognizer(settings),
        classifier=classifier,
        voice=SynthesizerVoice.default(settings.data_dir / "cache" / "prompts"),
        phrasing=RussianPhrasing(),
        log=log,
    )


def sip_config(settings: Settings, **overrides: object) -> SipConfig:
    """The telephony adapter's configuration from ``NAPOMNI_SIP_*``."""
    import dataclasses

    from dialer.telephony.config import SipConfig

    sip = settings.sip
    config = SipConfig(
        registrar=sip.registrar,
        user=sip.user,
        password=sip.password,
        caller_id=sip.caller_id,
        transport=sip.transport,  # type: ignore[arg-type]
        codecs=sip.codecs,  # type: ignore[arg-type]
        rtp_port_min=sip.rtp_port_min,
        rtp_port_max=sip.rtp_port_max,
        max_concurrent_calls=sip.max_concurrent_calls,
        # A registrar on this machine is reached over loopback: bind and advertise it.
        local_address="127.0.0.1" if sip.registrar.startswith(("127.", "localhost")) else None,
    )
    return dataclasses.replace(config, **overrides)  # type: ignore[arg-type]


def configured_telephone(settings: Settings, config: SipConfig) -> ConfiguredTelephone:
    """The SIP telephone ``NAPOMNI_SIP_ADAPTER`` names, not yet started.

    ``baresip-process`` (the default): SIP and RTP in a process of their own
    (:mod:`dialer.telephony.process`), where recognition and the dialogue cannot take their
    CPU; ``baresip``: in the calls' own process; ``pyvoip``: the optional pure-Python
    adapter, in the calls' own process (an :class:`AdapterUnavailable` names the extra to
    install when it is missing).
    """
    if settings.sip.adapter == "pyvoip":
        from dialer.telephony.pyvoip import PyVoipTelephone

        return PyVoipTelephone(config)
    if settings.sip.adapter == "baresip":
        from dialer.telephony.baresip import BaresipTelephone

        return BaresipTelephone(config)
    from dialer.telephony.remote import ProcessTelephone

    return ProcessTelephone(config)


class StartedOnFirstDial:
    """The configured SIP telephone, registered on the first dial (inside the event loop)."""

    def __init__(self, telephone: ConfiguredTelephone) -> None:
        self._telephone = telephone
        self._lock = asyncio.Lock()
        self._started = False

    async def dial(self, number: str, ring_timeout_s: float) -> Call:
        async with self._lock:
            if not self._started:
                await self._telephone.start()
                self._started = True
        return await self._telephone.dial(number, ring_timeout_s)

    async def close(self) -> None:
        """Unregister and stop the telephone, if it was started (the worker has stopped)."""
        async with self._lock:
            if self._started:
                self._started = False
                await self._telephone.close()


def build_call_runner(
    settings: Settings,
    factory: sessionmaker[Session],
    metrics: CallMetrics | None = None,
    *,
    telephone: StartedOnFirstDial | None = None,
) -> SessionCallRunner:
    """The worker's :class:`~dialer.worker.CallRunner`: the configured trunk, the live parts.

    Loads the models (seconds); the telephone registers on the first call. ``metrics``
    counts every call (``napomni worker --metrics-port``).
    """
    from dialer.runner import RunnerConfig, SessionCallRunner
    from dialer.session import CallSession, SessionConfig
    from dialer.session.store import SqlCallLog
    from dialer.session.transfer import TransferConfig, parse_transfer_method

    parts = build_session_parts(settings, SqlCallLog(factory, store_promises=False))
    session = CallSession(
        parts, SessionConfig(record_dir=settings.data_dir / "recordings"), metrics=metrics
    )
    return SessionCallRunner(
        telephone or StartedOnFirstDial(configured_telephone(settings, sip_config(settings))),
        session,
        factory,
        # NAPOMNI_TRANSFER_METHOD=refer: REFER to the collector's extension at the registrar.
        config=RunnerConfig(
            transfer=TransferConfig(
                method=parse_transfer_method(settings.transfer_method),
                refer_domain=settings.sip.registrar,
            )
        ),
    )


@dataclass
class ConsoleObserver:
    """Prints the conversation as it happens (the operator's console, not a log)."""

    show_latency: bool = True

    def notice(self, notice: Notice) -> None:
        """One line per event."""
        stamp = dt.datetime.now().strftime("%H:%M:%S")
        match notice.kind:
            case "robot":
                click.echo(f"{stamp} {notice.call_ref} Робот:   {notice.text}")
            case "debtor":
                tags = f"  [{', '.join(notice.tags)}]" if notice.tags else ""
                click.echo(f"{stamp} {notice.call_ref} Абонент: {notice.text}{tags}")
            case "event":
                if notice.latency_ms is not None and not self.show_latency:
                    return
                click.echo(click.style(f"{stamp} {notice.call_ref} · {notice.text}", dim=True))


def print_report(report: CallReport) -> None:
    """The end of one call, in a few lines."""
    outcome = report.outcome
    click.echo(f"Звонок: {report.result.outcome.value}, SIP {report.result.sip_status}")
    if outcome is not None:
        click.echo(f"Итог разговора: {outcome.kind.value}")
        if outcome.promise is not None and outcome.promise.due is not None:
            amount = outcome.promise.amount or "весь долг"
            click.echo(f"Обещание: {amount} до {outcome.promise.due.isoformat()}")
    if report.escalation is not None:
        click.echo(f"Передано специалисту: {report.escalation.reason}")
    if report.failure_reason:
        click.echo(f"Сбой: {report.failure_reason}")
    if report.latencies_ms:
        click.echo("Задержки ответа, мс: " + ", ".join(str(x) for x in report.latencies_ms))
    if report.recording_path:
        click.echo(f"Запись: {report.recording_path}")
    if report.call_id is not None:
        click.echo(f"Звонок сохранён: calls.id = {report.call_id}")


async def _place_call(
    settings: Settings, number: str, script_name: str, account_id: int, ring_timeout_s: float
) -> CallReport:
    from dialer.runner import ScriptBook
    from dialer.session import CallContext, CallOpening, CallSession, SessionConfig
    from dialer.session.accounts import account_variables, today_in
    from dialer.session.store import SqlCallLog
    from scripts.engine import Conversation
    from storage.database import make_engine, make_session_factory
    from storage.models import Account

    engine = make_engine(settings.database_url)
    try:
        factory = make_session_factory(engine)
        script = ScriptBook().get(script_name)

        def read_account() -> tuple[object, str]:
            with factory() as session:
                account = session.get(Account, account_id)
                zone = account.time_zone if account is not None else "Europe/Moscow"
                return account_variables(session, account_id), zone

        variables, zone = await asyncio.to_thread(read_account)
        conversation = Conversation(script, variables)  # type: ignore[arg-type]
        parts = await asyncio.to_thread(
            build_session_parts, settings, SqlCallLog(factory, store_promises=True)
        )
        session = CallSession(
            parts,
            SessionConfig(record_dir=settings.data_dir / "recordings"),
            observer=ConsoleObserver(),
        )
        context = CallContext(
            opening=CallOpening(account_id, script.name, dt.datetime.now(dt.UTC)),
            today=today_in(zone),
            debt=variables.debt_total,  # type: ignore[attr-defined]
            call_ref="call",
        )
        async with configured_telephone(settings, sip_config(settings)) as telephone:
            click.echo(f"Набираю номер через {settings.sip.registrar}…")
            try:
                return await session.place(telephone, number, ring_timeout_s, conversation, context)
            finally:
                session.close()
    finally:
        engine.dispose()


@click.command(help="Позвонить одному абоненту по сценарию и показать разговор по ходу.")
@click.argument("number")
@click.option("--script", "script_name", required=True, help="Имя сценария (soft_reminder, …).")
@click.option("--account", "account_id", type=int, required=True, help="id лицевого счёта.")
@click.option(
    "--ring-timeout", type=float, default=30.0, show_default=True, help="Ждать ответа, с."
)
@click.pass_obj
def call(
    settings: Settings, number: str, script_name: str, account_id: int, ring_timeout: float
) -> None:
    from dialer.session.errors import SessionError
    from dialer.telephony.errors import TelephonyError
    from scripts.errors import ScriptError

    try:
        report = asyncio.run(_place_call(settings, number, script_name, account_id, ring_timeout))
    except (SessionError, ScriptError, TelephonyError) as err:
        raise click.ClickException(str(err)) from err
    print_report(report)


_ = Path
