"""Server-Sent Events streams that poll the database: the campaign's live view and the
collector's screen pops share this loop.

The worker that makes calls is another process, so nothing can tell the web server that
something changed: a stream asks its ``poll`` about every ``poll_s`` seconds (the poll reads
on the database threads, never on the event loop), sends what it returns, and a comment line
as a heartbeat after a quiet while, so proxies keep the connection open and a gone client is
noticed. A stream ends by itself after ``lifetime_s`` (the browser's ``EventSource``
reconnects, and the sign-in and role are checked again), when the client leaves, when its
poll says there is nothing more to watch, or when the server begins to stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from web.responses import to_jsonable

__all__ = ["SSE_STOPPING", "EventStream", "event", "install", "open_stream", "wants_events"]

log = logging.getLogger(__name__)

#: Set when the server begins to shut down; every stream waits on it between polls.
SSE_STOPPING = web.AppKey("sse_stopping", asyncio.Event)

_HEADERS = {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-store",
    "X-Accel-Buffering": "no",  # nginx: pass each event on at once
    "X-Content-Type-Options": "nosniff",
}

#: What a poll returns: the events to send (b"" when nothing changed), or None when there is
#: nothing more to watch (the stream closes).
Poll = Callable[[], Awaitable[bytes | None]]


def event(name: str, data: object) -> bytes:
    """One event; ``data`` as JSON on one line."""
    # json.dumps never writes a raw newline, so one "data:" line carries the whole event.
    text = json.dumps(to_jsonable(data), ensure_ascii=False, separators=(",", ":"))
    return f"event: {name}\ndata: {text}\n\n".encode()


def wants_events(request: web.Request) -> bool:
    """The client asked for a stream (any other client gets one answer as JSON)."""
    return "text/event-stream" in request.headers.get("Accept", "")


@dataclass(frozen=True, slots=True)
class EventStream:
    """How often a stream polls, and when it sends a heartbeat and renews."""

    poll_s: float
    reconnect_ms: int
    heartbeat_s: float = 15.0
    lifetime_s: float = 600.0


async def open_stream(
    request: web.Request, spec: EventStream, label: str, first: bytes, poll: Poll
) -> web.StreamResponse:
    """Send ``first``, then what each poll returns, until the stream ends; ``label`` names
    the stream in the debug log (no personal data: a campaign or user number)."""
    response = web.StreamResponse(headers=_HEADERS)
    await response.prepare(request)
    stopping = request.app[SSE_STOPPING]
    loop = asyncio.get_running_loop()
    started = quiet_since = loop.time()
    try:
        await response.write(f"retry: {spec.reconnect_ms}\n\n".encode() + first)
        while not stopping.is_set() and loop.time() - started < spec.lifetime_s:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), spec.poll_s)
            if stopping.is_set():
                break
            if request.transport is None or request.transport.is_closing():
                raise ConnectionResetError  # nobody to tell: stop reading the database
            sent = await poll()
            if sent is None:
                break
            if sent:
                await response.write(sent)
                quiet_since = loop.time()
            elif loop.time() - quiet_since >= spec.heartbeat_s:
                await response.write(b": heartbeat\n\n")
                quiet_since = loop.time()
        reason = "server" if stopping.is_set() else "renew"
        await response.write(event("close", {"reason": reason}))
        await response.write_eof()
    except ConnectionResetError:
        log.debug("%s: the client left", label)
    except asyncio.CancelledError:
        # aiohttp cancels the handler of a connection the client closed while it waits.
        log.debug("%s: the client left (cancelled)", label)
        raise
    return response


async def _stop_streams(app: web.Application) -> None:
    app[SSE_STOPPING].set()


def install(app: web.Application) -> None:
    """The stop signal the streams wait on, set when the server begins to shut down
    (``on_shutdown`` runs before aiohttp waits for the open requests to finish)."""
    app[SSE_STOPPING] = asyncio.Event()
    app.on_shutdown.append(_stop_streams)
