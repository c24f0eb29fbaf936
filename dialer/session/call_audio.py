"""Both sides of one call as it goes, saved as the stereo recording at its end.

The robot on the left, the debtor on the right (``speech.recording``'s layout). The debtor's
frames arrive on the line's clock from the answer on; when the robot is quiet its channel is
filled with silence up to the same length, so the file starts at answer and both channels stay
in step: a reader (``call-timeline``) sees when the robot first spoke after the answer.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from dialer.telephony.port import FRAME_BYTES
from speech.recording import CallRecording

__all__ = ["CallAudio"]

logger = logging.getLogger(__name__)


class CallAudio:
    """The robot's and the debtor's PCM (8 kHz s16le mono each), aligned at the answer."""

    def __init__(self) -> None:
        self.robot = bytearray()
        self.debtor = bytearray()

    def debtor_frame(self, frame: bytes) -> None:
        """A frame received from the debtor; the robot's channel catches up with silence."""
        self.debtor += frame
        if len(self.robot) < len(self.debtor):
            self.robot += bytes(len(self.debtor) - len(self.robot))

    def robot_frame(self, frame: bytes) -> None:
        """A frame the robot handed to the telephone for the wire."""
        self.robot += frame

    def unsay(self, frames: int) -> None:
        """Take back the last ``frames`` handed over but never sent (a line cut short).

        A telephone that paces in another process takes a sentence ahead of the wire; what
        it did not send was not said, and kept here it would move everything after it later
        than the debtor heard it. Frames already as old as the debtor's channel stay: they
        were due on the wire by then.
        """
        if frames > 0:
            keep = max(len(self.debtor), len(self.robot) - frames * FRAME_BYTES)
            del self.robot[keep:]

    async def save(self, path: Path) -> str | None:
        """Write the stereo WAV (in a worker thread); None when it could not be written."""
        try:
            await asyncio.to_thread(_write, bytes(self.robot), bytes(self.debtor), path)
        except OSError:
            logger.error("recording %s not written", path.name, exc_info=True)
            return None
        return str(path)


def _write(robot: bytes, debtor: bytes, path: Path) -> None:
    recording = CallRecording()
    recording.add_robot(robot)
    recording.add_debtor(debtor)
    path.parent.mkdir(parents=True, exist_ok=True)
    recording.write_wav(path)
