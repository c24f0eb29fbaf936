"""G.711 μ-law (PCMU) and A-law (PCMA) ⇄ 16-bit linear PCM, through numpy lookup tables.

The tables follow the ITU-T G.711 reference (Sun Microsystems' public-domain ``g711.c``), the
same algorithm as the old stdlib ``audioop`` (gone in Python 3.13). Encoding looks every
16-bit sample up in a 65536-entry table; decoding uses a 256-entry one.
"""

from __future__ import annotations

from enum import StrEnum
from functools import cache

import numpy as np
import numpy.typing as npt

from speech.errors import AudioFormatError

__all__ = ["Codec", "decode", "encode"]


class Codec(StrEnum):
    """The G.711 companding laws, named as in SDP."""

    PCMU = "PCMU"  # μ-law, North America and Japan
    PCMA = "PCMA"  # A-law, Europe and Russia


_ULAW_BIAS = 0x84  # on 16-bit magnitudes (decoding)
_ULAW_BIAS_14 = 0x21  # the same bias on 14-bit magnitudes (encoding)
_ULAW_CLIP_14 = 8159
_ULAW_SEGMENT_ENDS = (0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF)
_ALAW_SEGMENT_ENDS = (0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF)


def _linear_to_ulaw(sample: int) -> int:
    value = sample >> 2  # μ-law encodes 14 bits
    mask = 0xFF
    if value < 0:
        value, mask = -value, 0x7F
    value = min(value, _ULAW_CLIP_14) + _ULAW_BIAS_14
    segment = next((i for i, end in enumerate(_ULAW_SEGMENT_ENDS) if value <= end), 8)
    if segment >= 8:
        return 0x7F ^ mask
    return ((segment << 4) | ((value >> (segment + 1)) & 0x0F)) ^ mask


def _ulaw_to_linear(code: int) -> int:
    code = ~code & 0xFF
    magnitude = (((code & 0x0F) << 3) + _ULAW_BIAS) << ((code & 0x70) >> 4)
    return _ULAW_BIAS - magnitude if code & 0x80 else magnitude - _ULAW_BIAS


def _linear_to_alaw(sample: int) -> int:
    value = sample >> 3  # A-law works on 13 bits
    if value >= 0:
        mask = 0xD5
    else:
        mask = 0x55
        value = -value - 1
    segment = next((i for i, end in enumerate(_ALAW_SEGMENT_ENDS) if value <= end), 8)
    if segment >= 8:
        return 0x7F ^ mask
    shift = 1 if segment < 2 else segment
    return ((segment << 4) | ((value >> shift) & 0x0F)) ^ mask


def _alaw_to_linear(code: int) -> int:
    code ^= 0x55
    value = (code & 0x0F) << 4
    segment = (code & 0x70) >> 4
    if segment == 0:
        value += 8
    else:
        value = (value + 0x108) << (segment - 1)
    return value if code & 0x80 else -value


@cache
def _encode_table(codec: Codec) -> npt.NDArray[np.uint8]:
    encode_one = _linear_to_ulaw if codec is Codec.PCMU else _linear_to_alaw
    # Indexed by the sample's bit pattern read as unsigned: 0..32767 then -32768..-1.
    samples = [*range(0, 32768), *range(-32768, 0)]
    return np.array([encode_one(s) for s in samples], dtype=np.uint8)


@cache
def _decode_table(codec: Codec) -> npt.NDArray[np.int16]:
    decode_one = _ulaw_to_linear if codec is Codec.PCMU else _alaw_to_linear
    return np.array([decode_one(c) for c in range(256)], dtype="<i2")


def encode(pcm: bytes, codec: Codec) -> bytes:
    """Compress s16le PCM to G.711 bytes (one byte per sample)."""
    if len(pcm) % 2:
        raise AudioFormatError(f"PCM нечётной длины {len(pcm)} байт нельзя закодировать в {codec}")
    index = np.frombuffer(pcm, dtype="<u2")
    encoded: npt.NDArray[np.uint8] = _encode_table(Codec(codec))[index]
    return encoded.tobytes()


def decode(payload: bytes, codec: Codec) -> bytes:
    """Expand G.711 bytes to s16le PCM (two bytes per sample)."""
    codes = np.frombuffer(payload, dtype=np.uint8)
    decoded: npt.NDArray[np.int16] = _decode_table(Codec(codec))[codes]
    return decoded.tobytes()
