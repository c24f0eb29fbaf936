"""Recognition in worker processes, so that decoding never takes the calls' CPU.

A live call's process runs SIP signalling, RTP pacing (it must hand the stack a frame every
20 ms) and every call's dialogue on one event loop. Recognition in the same process — even
in threads, where the decoders release the GIL — still holds the GIL for its Python parts
(voice activity, resampling, result parsing) and made the loop late under load. Here each
worker process loads the model once and serves many calls' streams; the calls' process only
moves audio and events over a pipe (``multiprocessing`` connections: pickled tuples).

:class:`RecognitionWorkers` is itself a :class:`~speech.recognition.RecognitionEngine`:
``open_stream()`` gives a stream on the least busy worker, and ``accept``/``flush`` block the
caller's thread (a recognition pool thread, never the loop) until the worker answers.

Protocol, calls' process → worker: ``(request_id, op, stream_id, pcm)`` with ``op`` one of
``open``, ``accept``, ``flush``, ``close`` (no reply to ``close``). Worker → calls' process:
``(request_id, error, events)``; ``error`` is ``None`` or the worker's message. A worker
serves requests on a thread pool (a decode does not hold up other calls' frames); one
stream's requests never overlap, as its caller waits for each answer.

A worker ends when its pipe closes — its owner exited or died, even by SIGKILL — so none is
left behind. A worker that dies fails its streams' pending requests with
:class:`~speech.errors.RecognitionError` and is replaced for the next call.
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing
import signal
import threading
import weakref
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from types import TracebackType
from typing import Final, Literal

from speech.errors import RecognitionError
from speech.recognition import RecognitionEngine, RecognitionEvent, RecognizerStream

__all__ = ["WARM_UP_TEXTS", "EngineRecipe", "RecognitionWorkers", "warm_recognizers"]

logger = logging.getLogger(__name__)

_READY_TIMEOUT_S: Final = 180.0
_REPLY_TIMEOUT_S: Final = 60.0
_STOP_TIMEOUT_S: Final = 5.0

_Request = tuple[int, str, int, bytes]
_Reply = tuple[int, str | None, list[RecognitionEvent]]


@dataclass(frozen=True, slots=True)
class EngineRecipe:
    """How a worker loads its engine (picklable: it crosses into the new process).

    ``decoders``: Whisper decodes one worker runs at once (Vosk decodes in the caller's
    thread, so its streams run side by side anyway).
    """

    kind: Literal["vosk", "whisper"]
    model: Path
    decoders: int = 1
    # Vosk recognisers each worker warms before it is ready, and the most it keeps (its
    # debtors speaking at once; more wait for one, their speech kept).
    warm: int = 0

    def load(self) -> RecognitionEngine:
        """The engine, loaded in this process (seconds of CPU)."""
        if self.kind == "vosk":
            from speech.vosk_engine import VoskEngine

            return VoskEngine.load(self.model, max_recognizers=max(self.warm, 2))
        from speech.whisper_engine import WhisperConfig, WhisperEngine

        return WhisperEngine.load(self.model, WhisperConfig(num_workers=self.decoders))


def _serve(conn: Connection, recipe: EngineRecipe, threads: int) -> None:
    """A worker process's life: load, say ready, answer requests until the pipe closes."""
    # Ctrl-C in a terminal reaches the whole process group: the owner decides when to stop
    # (a stopping worker finishes its calls, which need recognition); the pipe closing ends us.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        engine = recipe.load()
    except Exception as err:  # reported to the owner, who raises it where it was asked
        conn.send(("failed", f"{type(err).__name__}: {err}"))
        return
    # Before "ready": warming takes seconds of both cores, which calls must not share.
    warm_recognizers(engine, recipe.warm)
    conn.send(("ready", engine.name))
    streams: dict[int, RecognizerStream] = {}
    send_lock = threading.Lock()

    def answer(request: _Request) -> None:
        request_id, op, stream_id, pcm = request
        events: list[RecognitionEvent] = []
        error: str | None = None
        try:
            if op == "open":
                streams[stream_id] = engine.open_stream()
            elif op == "accept":
                events = streams[stream_id].accept(pcm)
            elif op == "flush":
                events = streams[stream_id].flush()
            else:
                error = f"неизвестная операция {op!r}"
        except Exception as err:  # one stream's failure is its caller's, not the worker's
            error = f"{type(err).__name__}: {err}"
        with send_lock:
            conn.send((request_id, error, events))

    with ThreadPoolExecutor(threads, thread_name_prefix="recognise") as pool:
        while True:
            try:
                request: _Request = conn.recv()
            except (EOFError, OSError):
                break  # the owner is gone: so is this worker
            if request[1] == "close":
                streams.pop(request[2], None)
            else:
                pool.submit(answer, request)


#: What debtors often say, for warming recognisers: a recogniser builds the part of its
#: decoding graph that the words it hears lead to, so the common answers' words are worth
#: hearing once before the first call (any speech in the model's language helps).
WARM_UP_TEXTS: Final = (
    "Алло, да, это я. Слушаю вас.",
    "Денег сейчас нет, заплачу пятнадцатого, пять тысяч рублей.",
    "Нет, вы ошиблись, его нет дома, я передам.",
    "Я уже оплатил, не согласен с суммой, соедините с оператором.",
)


def warm_recognizers(engine: RecognitionEngine, recognizers: int) -> None:
    """Warm a Vosk engine's recognisers on synthesised speech (nothing to do for Whisper).

    Not being warm only costs time, so a voice that fails is logged, not raised.
    """
    from speech.vosk_engine import VoskEngine

    if not isinstance(engine, VoskEngine) or recognizers < 1:
        return
    try:
        from speech.tts import default_tts

        tts = default_tts()
        engine.warm(recognizers, [tts.render(text) for text in WARM_UP_TEXTS])
    except Exception:
        logger.warning("recognisers not warmed", exc_info=True)


@dataclass(eq=False)
class _Worker:
    """The owner's side of one worker process."""

    process: multiprocessing.process.BaseProcess
    conn: Connection
    streams: int = 0
    alive: bool = True
    pending: dict[int, Future[list[RecognitionEvent]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def request(
        self, request_id: int, op: str, stream_id: int, pcm: bytes
    ) -> Future[list[RecognitionEvent]]:
        future: Future[list[RecognitionEvent]] = Future()
        with self.lock:
            if not self.alive:
                future.set_exception(RecognitionError("процесс распознавания завершился"))
                return future
            if op != "close":
                self.pending[request_id] = future
            try:
                self.conn.send((request_id, op, stream_id, pcm))
            except (OSError, ValueError) as err:
                self.pending.pop(request_id, None)
                future.set_exception(RecognitionError(f"процесс распознавания недоступен: {err}"))
        return future

    def read_replies(self) -> None:
        """The reader thread: hand each answer to the request waiting for it."""
        while True:
            try:
                request_id, error, events = self.conn.recv()
            except (EOFError, OSError):
                break
            with self.lock:
                future = self.pending.pop(request_id, None)
            if future is None:
                continue
            if error is None:
                future.set_result(events)
            else:
                future.set_exception(RecognitionError(f"распознавание: {error}"))
        with self.lock:
            self.alive = False
            lost, self.pending = self.pending, {}
        for future in lost.values():
            future.set_exception(RecognitionError("процесс распознавания завершился"))


class _RemoteStream:
    """One call's stream, living in a worker process."""

    def __init__(self, owner: RecognitionWorkers, worker: _Worker, stream_id: int) -> None:
        self._owner = owner
        self._worker = worker
        self._id = stream_id
        # A finalizer may run inside any allocation, even mid-send on this very pipe: it only
        # notes the stream; the owner tells the worker on its next request.
        weakref.finalize(self, owner._released.append, (worker, stream_id))

    def accept(self, frame: bytes) -> list[RecognitionEvent]:
        return self._owner._ask(self._worker, "accept", self._id, frame)

    def flush(self) -> list[RecognitionEvent]:
        return self._owner._ask(self._worker, "flush", self._id, b"")


class RecognitionWorkers:
    """A recognition engine whose model runs in ``processes`` worker processes."""

    def __init__(
        self, recipe: EngineRecipe, workers: list[_Worker], name: str, threads: int
    ) -> None:
        self.recipe = recipe
        self._threads = threads
        self._workers = workers
        self._name = name
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._closed = False
        self._released: deque[tuple[_Worker, int]] = deque()

    @classmethod
    def start(
        cls, recipe: EngineRecipe, processes: int, *, threads: int = 16
    ) -> RecognitionWorkers:
        """Start the workers and wait until each has loaded its model.

        Raises :class:`~speech.errors.RecognitionError` with the worker's message when the
        model does not load.
        """
        if processes < 1:
            raise ValueError("processes must be ≥ 1")
        workers: list[_Worker] = []
        try:
            for _ in range(processes):
                workers.append(_spawn(recipe, threads))
            names = {_await_ready(worker) for worker in workers}
        except BaseException:
            for worker in workers:
                _stop(worker)
            raise
        return cls(recipe, workers, names.pop(), threads)

    @property
    def name(self) -> str:
        """The engine's name ("vosk", "whisper")."""
        return self._name

    @property
    def processes(self) -> list[int]:
        """The workers' PIDs (benchmarks count their CPU as the robot's)."""
        return [w.process.pid for w in self._workers if w.process.pid is not None]

    def open_stream(self) -> RecognizerStream:
        """A stream on the worker with the fewest open streams (a dead one is replaced)."""
        self._close_released()
        with self._lock:
            if self._closed:
                raise RecognitionError("распознавание остановлено")
            for n, worker in enumerate(self._workers):
                if not worker.alive:
                    logger.warning(
                        "recognition worker %s ended; starting another", worker.process.pid
                    )
                    _stop(worker)
                    self._workers[n] = _spawn(self.recipe, self._threads)
                    _await_ready(self._workers[n])
            worker = min(self._workers, key=lambda w: w.streams)
            worker.streams += 1
            stream_id = next(self._ids)
        try:
            self._ask(worker, "open", stream_id, b"")
        except RecognitionError:
            self._released.append((worker, stream_id))
            raise
        return _RemoteStream(self, worker, stream_id)

    def _ask(self, worker: _Worker, op: str, stream_id: int, pcm: bytes) -> list[RecognitionEvent]:
        if self._released:
            self._close_released()
        future = worker.request(next(self._ids), op, stream_id, pcm)
        try:
            return future.result(_REPLY_TIMEOUT_S)
        except TimeoutError as err:
            raise RecognitionError(
                f"процесс распознавания не ответил за {_REPLY_TIMEOUT_S:.0f} с"
            ) from err

    def _close_released(self) -> None:
        """Tell the workers about the streams their calls have let go of."""
        while True:
            try:
                worker, stream_id = self._released.popleft()
            except IndexError:
                return
            with self._lock:
                worker.streams -= 1
            worker.request(next(self._ids), "close", stream_id, b"")

    def close(self) -> None:
        """Stop every worker (their streams fail from now on)."""
        with self._lock:
            self._closed = True
            workers, self._workers = self._workers, []
        for worker in workers:
            _stop(worker)

    def __enter__(self) -> RecognitionWorkers:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _spawn(recipe: EngineRecipe, threads: int) -> _Worker:
    # "spawn", not fork: the calls' process has native threads (the SIP stack, decoders) that
    # a forked child would inherit mid-lock.
    context = multiprocessing.get_context("spawn")
    mine, theirs = context.Pipe(duplex=True)
    process = context.Process(
        target=_serve, args=(theirs, recipe, threads), name="napomni-recognition", daemon=True
    )
    process.start()
    theirs.close()
    return _Worker(process, mine)


def _await_ready(worker: _Worker) -> str:
    if not worker.conn.poll(_READY_TIMEOUT_S):
        _stop(worker)
        raise RecognitionError(
            f"процесс распознавания не загрузил модель за {_READY_TIMEOUT_S:.0f} с"
        )
    try:
        status, detail = worker.conn.recv()
    except (EOFError, OSError) as err:
        raise RecognitionError("процесс распознавания завершился при загрузке модели") from err
    if status != "ready":
        _stop(worker)
        raise RecognitionError(str(detail))
    threading.Thread(target=worker.read_replies, name="recognition-replies", daemon=True).start()
    return str(detail)


def _stop(worker: _Worker) -> None:
    worker.conn.close()  # the worker sees its pipe close and returns
    worker.process.join(_STOP_TIMEOUT_S)
    if worker.process.is_alive():
        worker.process.kill()
        worker.process.join(_STOP_TIMEOUT_S)
