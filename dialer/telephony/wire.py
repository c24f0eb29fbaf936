"""The local protocol between the calls' process and the telephony process.

Messages are pickled tuples, each framed by a 4-byte big-endian length, over the telephony
process's stdin (requests) and stdout (events and replies). Both ends are ours and run the
same code; nothing from the network is ever unpickled.

Calls' process → telephony process:

- ``("dial", request, number, ring_timeout_s)``
- ``("play", call, play)``, ``("chunk", call, play, pcm)``…, ``("play_end", call, play)``
- ``("stop", call)`` — stop the playback under way
- ``("hangup", request, call)``, ``("transfer", request, call, target_uri, timeout_s)``

Telephony process → calls' process:

- ``("ready", detail)`` once registered, or ``("failed", error)``
- ``("reply", request, value, error)`` — ``error`` is :func:`error_record` or ``None``
- ``("frames", [(call, pcm), …])`` — every 20 ms, the frames each call received since
- ``("digit", call, digit)``, ``("played", call, play, completed)``
- ``("ended", call, result)`` — the call's final :class:`~dialer.telephony.port.CallResult`
"""

from __future__ import annotations

import asyncio
import pickle
import struct
from typing import Final

from dialer.telephony import errors

__all__ = ["ErrorRecord", "error_from", "error_record", "read_message", "write_message"]

_LENGTH: Final = struct.Struct(">I")
_MAX_MESSAGE: Final = 64 * 1024 * 1024  # a whole recorded sentence is far below this

#: An exception as it crosses the pipe: class name, message, SIP status, reason.
ErrorRecord = tuple[str, str, int | None, str]


def write_message(writer: asyncio.StreamWriter, message: tuple[object, ...]) -> None:
    """Queue one message on ``writer`` (the caller drains when it must)."""
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    writer.write(_LENGTH.pack(len(data)) + data)


async def read_message(reader: asyncio.StreamReader) -> tuple[object, ...] | None:
    """The next message, ``None`` when the other end closed the pipe."""
    try:
        header = await reader.readexactly(_LENGTH.size)
        (length,) = _LENGTH.unpack(header)
        if length > _MAX_MESSAGE:
            raise ValueError(f"сообщение телефонии длиной {length} байт")
        message = pickle.loads(await reader.readexactly(length))
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    if not isinstance(message, tuple):
        raise ValueError(f"сообщение телефонии не кортеж: {type(message).__name__}")
    return message


def error_record(err: BaseException) -> ErrorRecord:
    """What the other side needs to raise the same telephony error."""
    status = getattr(err, "status", None)
    return (
        type(err).__name__,
        str(err),
        status if isinstance(status, int) else None,
        str(getattr(err, "reason", "") or ""),
    )


def error_from(record: ErrorRecord) -> Exception:
    """The telephony error a record names (a plain ``TelephonyError`` for anything else)."""
    name, message, status, reason = record
    kind = getattr(errors, name, None)
    if isinstance(kind, type) and issubclass(kind, errors.TransferError):
        return kind(message, status=status, reason=reason)
    if isinstance(kind, type) and issubclass(kind, errors.TelephonyError):
        return kind(message)
    if name == "ValueError":
        return ValueError(message)
    return errors.TelephonyError(f"{name}: {message}")
