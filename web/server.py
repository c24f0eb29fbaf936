"""The service on its own thread and event loop: for synchronous clients (browser tests,
schemathesis over ``requests``) and for ``napomni bench web``, whose load generator runs
on the caller's loop."""

from __future__ import annotations

import asyncio
import logging
import threading
from types import TracebackType

from aiohttp import web

from web.app import AccessLogger, create_app
from web.config import WebConfig

__all__ = ["READY_TIMEOUT_S", "ThreadedServer"]

READY_TIMEOUT_S = 30.0


class ThreadedServer:
    """``with ThreadedServer(config) as server: server.url`` — 127.0.0.1, a port from the OS."""

    def __init__(self, config: WebConfig, access_log: logging.Logger | None = None) -> None:
        self._config = config
        self._access_log = access_log
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="napomni-web-live", daemon=True)
        self.url = ""

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._serve())
        except BaseException as err:  # reported to the starting thread by __enter__
            self._error = err
            self._ready.set()
        finally:
            self._loop.close()

    async def _serve(self) -> None:
        # Access lines go through our logger (no query strings), or nowhere.
        runner = web.AppRunner(
            create_app(self._config),
            access_log=self._access_log,
            access_log_class=AccessLogger,
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            host, port = runner.addresses[0][:2]
            self.url = f"http://{host}:{port}"
            self._stop = asyncio.Event()
            self._ready.set()
            await self._stop.wait()
        finally:
            await runner.cleanup()

    def __enter__(self) -> ThreadedServer:
        self._thread.start()
        if not self._ready.wait(READY_TIMEOUT_S):
            raise RuntimeError(f"napomni web (live server) not ready in {READY_TIMEOUT_S} s")
        if self._error is not None:
            raise RuntimeError("napomni web (live server) failed to start") from self._error
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        stop = self._stop
        if stop is not None:
            self._loop.call_soon_threadsafe(stop.set)
        self._thread.join(timeout=READY_TIMEOUT_S)
