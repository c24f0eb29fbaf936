"""Telephone audio ⇄ text: codecs, resampling, recognition engines, Russian prompt synthesis."""
