"""The call's stereo recording keeps what the robot said, not what it handed over."""

from dialer.session.call_audio import CallAudio
from dialer.telephony.port import FRAME_BYTES

SPEECH = b"\x10\x00" * (FRAME_BYTES // 2)
LINE = b"\x00\x00" * (FRAME_BYTES // 2)


def test_frames_handed_over_but_never_sent_are_taken_back() -> None:
    audio = CallAudio()
    audio.debtor_frame(LINE)
    for _ in range(100):  # a 2 s sentence handed over at once
        audio.robot_frame(SPEECH)
    for _ in range(10):  # cut 0.2 s in by the debtor's answer
        audio.debtor_frame(LINE)
    audio.unsay(100 - 10)
    # The robot's channel ends where its speech stopped on the wire, level with the debtor's.
    assert len(audio.robot) == len(audio.debtor) == 11 * FRAME_BYTES
    audio.robot_frame(SPEECH)  # the next line starts where the debtor heard it start
    assert len(audio.robot) == 12 * FRAME_BYTES


def test_frames_already_due_on_the_wire_stay() -> None:
    audio = CallAudio()
    for _ in range(5):
        audio.robot_frame(SPEECH)
    for _ in range(8):  # the line has moved on past what was handed over
        audio.debtor_frame(LINE)
    audio.unsay(5)
    assert bytes(audio.robot[: 5 * FRAME_BYTES]) == SPEECH * 5
    assert len(audio.robot) == 8 * FRAME_BYTES


def test_nothing_to_take_back_changes_nothing() -> None:
    audio = CallAudio()
    audio.robot_frame(SPEECH)
    audio.unsay(0)
    audio.unsay(-3)  # a telephone that sent more than it was counted (never less)
    assert len(audio.robot) == FRAME_BYTES
