"""Content routing: level, silence, speech and vocal shares of a window.

Cheap DSP on short frames, so it fits in the engine's 10 ms budget. Silence is
decided by level alone; speech is recognised by its syllabic pauses (the share
of low-energy frames, Scheirer & Slaney 1997), which music rarely has.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...types import SAMPLE_RATE

#: Blocks of 100 ms decide silence: short enough to see a pause between songs.
SILENCE_BLOCK = SAMPLE_RATE // 10
#: 23 ms frames resolve syllables (~4–6 per second).
SPEECH_FRAME = 1024
#: Frames in a 1 s context whose power is below half the context mean are "low energy".
SPEECH_CONTEXT = SAMPLE_RATE // SPEECH_FRAME
#: Low-energy-frame share mapped linearly onto 0–100 % speech between these values:
#: music with decaying notes reaches 0.4, speech with syllable gaps 0.6.
SPEECH_LEF_RANGE = (0.45, 0.60)
LEVEL_FLOOR_DBFS = -120.0


@dataclass(frozen=True, slots=True)
class Content:
    level_dbfs: float
    silence_pct: float
    speech_pct: float
    vocal_pct: float
    instrumental_pct: float


def _db(power: np.ndarray | float) -> np.ndarray:
    return 10.0 * np.log10(np.maximum(power, 10.0 ** (LEVEL_FLOOR_DBFS / 10.0)))


def low_energy_share(mono: np.ndarray) -> float:
    """Share of 23 ms frames quieter than half the mean power of their 1 s context."""
    frames = mono[: len(mono) // SPEECH_FRAME * SPEECH_FRAME].reshape(-1, SPEECH_FRAME)
    power = np.einsum("ij,ij->i", frames, frames, dtype=np.float64) / SPEECH_FRAME
    usable = len(power) // SPEECH_CONTEXT * SPEECH_CONTEXT
    if usable == 0:
        return 0.0
    contexts = power[:usable].reshape(-1, SPEECH_CONTEXT)
    return float(np.mean(contexts < 0.5 * contexts.mean(axis=1, keepdims=True)))


def measure_content(mono: np.ndarray, silence_dbfs: float) -> Content:
    level = float(_db(np.dot(mono, mono) / max(len(mono), 1)))
    blocks = mono[: len(mono) // SILENCE_BLOCK * SILENCE_BLOCK].reshape(-1, SILENCE_BLOCK)
    block_power = np.einsum("ij,ij->i", blocks, blocks, dtype=np.float64) / SILENCE_BLOCK
    block_db = _db(block_power) if len(blocks) else np.array([level])
    silence = 100.0 * float(np.mean(block_db < silence_dbfs))
    audible = 100.0 - silence
    lo, hi = SPEECH_LEF_RANGE
    speech_share = float(np.clip((low_energy_share(mono) - lo) / (hi - lo), 0.0, 1.0)) if audible > 0 else 0.0
    speech = audible * speech_share
    return Content(
        level_dbfs=max(level, LEVEL_FLOOR_DBFS),
        silence_pct=silence,
        speech_pct=speech,
        vocal_pct=0.0,  # no singing detector yet: every music window takes the instrumental lane
        instrumental_pct=audible - speech,
    )
