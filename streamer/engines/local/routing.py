"""Content routing: level, silence, speech and vocal shares of a window.

Silence is decided by level alone on 100 ms blocks. Speech and singing come
from the trained content heads (content.py): the audible share of the window
is split by their probabilities, so a window that is 60 % likely sung reports
60 % vocals. Cheap enough for the engine's 10 ms budget. The same STFT's mel cepstra
give the envelope-jitter family its per-window statistic, so it is measured here too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...types import SAMPLE_RATE
from .content import ContentModel, analyse, default_content_model
from .envelope_jitter import jitter_floor

#: Blocks of 100 ms decide silence: short enough to see a pause between songs.
SILENCE_BLOCK = SAMPLE_RATE // 10
LEVEL_FLOOR_DBFS = -120.0


@dataclass(frozen=True, slots=True)
class Content:
    level_dbfs: float
    silence_pct: float
    speech_pct: float
    vocal_pct: float
    instrumental_pct: float
    #: The envelope-jitter statistic of the window (None under a second of audible audio).
    jitter_floor: float | None


def _db(power: np.ndarray | float) -> np.ndarray:
    return 10.0 * np.log10(np.maximum(power, 10.0 ** (LEVEL_FLOOR_DBFS / 10.0)))


def measure_content(mono: np.ndarray, silence_dbfs: float, model: ContentModel | None = None) -> Content:
    """Shares (0–100) of silence, speech, singing and instrumental music in ``mono``, and its level."""
    level = float(_db(np.dot(mono, mono) / max(len(mono), 1)))
    blocks = mono[: len(mono) // SILENCE_BLOCK * SILENCE_BLOCK].reshape(-1, SILENCE_BLOCK)
    block_power = np.einsum("ij,ij->i", blocks, blocks, dtype=np.float64) / SILENCE_BLOCK
    block_db = _db(block_power) if len(blocks) else np.array([level])
    silence = 100.0 * float(np.mean(block_db < silence_dbfs))
    audible = 100.0 - silence
    analysis = analyse(mono) if audible > 0 else None
    # Under a second of audio: too little to tell, so no speech or singing is claimed.
    p_vocal, p_speech = (model or default_content_model()).probabilities(analysis.features) if analysis is not None else (0.0, 0.0)
    speech = audible * p_speech
    music = audible - speech
    return Content(
        level_dbfs=max(level, LEVEL_FLOOR_DBFS),
        silence_pct=silence,
        speech_pct=speech,
        vocal_pct=music * p_vocal,
        instrumental_pct=music * (1.0 - p_vocal),
        jitter_floor=jitter_floor(analysis.cepstra) if analysis is not None else None,
    )
