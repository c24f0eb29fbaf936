"""Voicemail and operator announcements: who answered is not a person.

Two signals, either is enough:

- what was said matches an announcement («абонент не может ответить», «оставьте сообщение
  после сигнала», «вне зоны действия сети» …) — checked on every recognised utterance
  until the debtor has been understood once;
- a long monologue before any pause: the first utterance of the call runs longer than
  ``monologue_s`` (people answer «Алло?» and wait; machines talk on).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from scripts.events import MachineKind

__all__ = ["MachineDetector", "detect_announcement"]

# Each pattern tolerates recogniser noise between the key words (\W+\w*){0,2}.
_GAP: Final = r"(?:\W+\w+){0,2}\W+"
_VOICEMAIL: Final = (
    rf"оставьте{_GAP}сообщени",
    rf"после{_GAP}(?:звукового\W+)?сигнала",
    r"автоответчик",
    r"голосов\w*\W+почт",
    rf"запишите{_GAP}сообщени",
)
_ANNOUNCEMENT: Final = (
    rf"абонент{_GAP}не\W+может\W+(?:сейчас\W+)?ответить",
    r"абонент\w*\W+(?:временно\W+)?недоступ",
    rf"вне{_GAP}зоны",
    r"аппарат\w*\W+абонента\W+выключ",
    r"номер\w*\W+(?:набран\W+неверно|не\W+существует)",
    r"неправильно\W+набран",
    r"перезвоните\W+позднее",
)
_VOICEMAIL_RE: Final = re.compile("|".join(_VOICEMAIL))
_ANNOUNCEMENT_RE: Final = re.compile("|".join(_ANNOUNCEMENT))


def _normalise(text: str) -> str:
    return " ".join(text.lower().replace("ё", "е").split())


def detect_announcement(text: str) -> MachineKind | None:
    """The kind of machine whose words these are, or None for (probably) a person."""
    normal = _normalise(text)
    if not normal:
        return None
    if _VOICEMAIL_RE.search(normal):
        return MachineKind.VOICEMAIL
    if _ANNOUNCEMENT_RE.search(normal):
        return MachineKind.ANNOUNCEMENT
    return None


@dataclass(slots=True)
class MachineDetector:
    """Watches the start of a call for a machine; feed it recognition as it arrives.

    ``monologue_s``: the first utterance longer than this is a machine (a person's
    «Алло, слушаю» is under two seconds).
    """

    monologue_s: float = 6.0
    active: bool = True
    _first_started_at: float | None = None  # the utterance in progress began
    _utterances: int = 0

    def speech_started(self, now: float) -> None:
        """The far end started talking (stream time or wall clock, in seconds)."""
        if self._first_started_at is not None:
            # The previous utterance never produced a result: it was one all the same.
            self._utterances += 1
        self._first_started_at = now

    def speech_lost(self) -> None:
        """An utterance started and the recogniser gave nothing for it."""
        if self._first_started_at is not None:
            self._utterances += 1
            self._first_started_at = None

    def utterance(self, text: str, duration_s: float) -> MachineKind | None:
        """A finished utterance: a machine's words, or the long first monologue."""
        self._first_started_at = None
        if not self.active:
            return None
        self._utterances += 1
        kind = detect_announcement(text)
        if kind is not None:
            return kind
        if self._utterances == 1 and duration_s >= self.monologue_s:
            return MachineKind.VOICEMAIL
        return None

    def still_talking(self, now: float) -> MachineKind | None:
        """Called while the first utterance goes on: a monologue is a machine."""
        if not self.active or self._utterances or self._first_started_at is None:
            return None
        if now - self._first_started_at >= self.monologue_s:
            return MachineKind.VOICEMAIL
        return None

    def person_confirmed(self) -> None:
        """The far end answered like a person (a turn was understood): stop watching."""
        self.active = False
