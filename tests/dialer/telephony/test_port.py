"""The port's pure parts: SIP causes → outcomes, configuration checks, frame cutting."""

from __future__ import annotations

import pytest

from dialer.telephony.config import SipConfig
from dialer.telephony.media import iter_frames
from dialer.telephony.port import FRAME_BYTES, Outcome, outcome_for_status


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, Outcome.ANSWERED),
        (486, Outcome.BUSY),
        (600, Outcome.BUSY),
        (603, Outcome.REJECTED),
        (404, Outcome.UNREACHABLE),
        (480, Outcome.UNREACHABLE),
        (408, Outcome.NO_ANSWER),
        (487, Outcome.NO_ANSWER),
        (407, Outcome.FAILED),
        (503, Outcome.FAILED),
        (None, Outcome.FAILED),
    ],
)
def test_sip_status_maps_to_the_campaign_outcome(status: int | None, outcome: Outcome) -> None:
    assert outcome_for_status(status) is outcome


def test_config_hides_the_password_and_builds_uris() -> None:
    config = SipConfig(registrar="pbx.example:5080", user="robot", password="s3cret")
    assert "s3cret" not in repr(config)
    assert config.registrar_host == "pbx.example"
    assert config.registrar_port == 5080
    assert config.uri_for("79161234567") == "sip:79161234567@pbx.example:5080"
    assert config.uri_for("sip:x@y") == "sip:x@y"
    with pytest.raises(ValueError, match="недопустимые"):
        config.uri_for("1; drop")


@pytest.mark.parametrize(
    "changes",
    [
        {"registrar": ""},
        {"user": "a b"},
        {"codecs": ("G729",)},
        {"rtp_port_min": 30000, "rtp_port_max": 20000},
        {"max_concurrent_calls": 0},
    ],
)
def test_config_refuses_bad_values(changes: dict[str, object]) -> None:
    values: dict[str, object] = {"registrar": "127.0.0.1:5060", "user": "robot", **changes}
    with pytest.raises(ValueError):  # noqa: PT011 - each case names its own field
        SipConfig(**values)  # type: ignore[arg-type]


async def test_audio_is_cut_into_frames_and_the_tail_padded() -> None:
    frames = [f async for f in iter_frames(b"\x01\x00" * 250)]
    assert [len(f) for f in frames] == [FRAME_BYTES, FRAME_BYTES]
    assert frames[1].endswith(b"\x00" * 140)

    async def stream() -> object:
        for _ in range(3):
            yield b"\x02\x00" * 100

    streamed = [f async for f in iter_frames(stream())]  # type: ignore[arg-type]
    assert len(streamed) == 2
