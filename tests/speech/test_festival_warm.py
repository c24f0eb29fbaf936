"""Festival kept warm: one ``festival --pipe`` process per thread says sentence after sentence."""

from __future__ import annotations

import pytest

from speech import tts
from speech.tts import FestivalTts

pytestmark = pytest.mark.skipif(not FestivalTts.available(), reason="нет festival festvox-ru")


def test_a_warm_process_says_what_text2wave_says_and_is_reused() -> None:
    voice = FestivalTts()
    text = "Итак, вы оплатите четыре тысячи рублей до среды. Верно?"
    cold = voice._text2wave(text)
    warm = voice.render(text)
    assert warm.format == cold.format
    assert warm.pcm == cold.pcm
    idle = tts._WARM._idle[voice.festival_voice]
    assert len(idle) >= 1
    process = idle[-1]
    voice.render("Хорошо.")
    assert tts._WARM._idle[voice.festival_voice][-1] is process


def test_a_dead_process_is_replaced_and_the_sentence_still_said() -> None:
    voice = FestivalTts()
    voice.render("Добрый день.")
    for process in tts._WARM._idle[voice.festival_voice]:
        process._process.kill()
        process._process.wait()
    audio = voice.render("Добрый день.")
    assert audio.duration_s > 0.3
