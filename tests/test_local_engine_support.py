"""Synthetic audio for the local-engine tests and benchmark, and a whole-engine run (no test cases here).

Music-like signals: chords of harmonic notes with envelopes plus noise-burst
percussion: tonal, like the real music that is the comb's false-positive risk.
"""

from __future__ import annotations

import numpy as np

from streamer.engines.base import StreamInfo
from streamer.engines.local import LocalEngine
from streamer.types import SAMPLE_RATE, ClipVerdict, PcmBlock, WindowVerdict
from streamer.windowing import Windower


def synthetic_music(seconds: float, seed: int = 0, rate: int = SAMPLE_RATE) -> np.ndarray:
    """Mono float32 music-like audio around -18 dBFS."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    t = np.arange(n) / rate
    out = np.zeros(n)
    beat = 0.5
    for start in np.arange(0.0, seconds, 2 * beat):
        chord = 220.0 * 2.0 ** (rng.choice(24, 3, replace=False) / 12.0)
        span = (t >= start) & (t < start + 2 * beat)
        local = t[span] - start
        envelope = np.exp(-1.5 * local) * np.minimum(1.0, local / 0.01)
        for f0 in chord:
            for h in range(1, 30):
                if h * f0 > rate / 2 * 0.9:
                    break
                phase = rng.uniform(0, 2 * np.pi)
                out[span] += envelope * np.sin(2 * np.pi * h * f0 * local + phase) / h**1.2
    for start in np.arange(0.0, seconds, beat):  # hi-hat/snare-like noise bursts
        i = int(start * rate)
        burst = min(n - i, rate // 8)
        out[i : i + burst] += 0.3 * rng.standard_normal(burst) * np.exp(-np.arange(burst) / (rate * 0.02))
    out += 0.003 * rng.standard_normal(n)
    out *= 10 ** (-18 / 20) / np.sqrt(np.mean(out**2))
    return out.astype(np.float32)


def synthetic_speech(seconds: float, seed: int = 0, rate: int = SAMPLE_RATE) -> np.ndarray:
    """Speech-like audio: voiced 'syllables' (harmonic buzz through moving formants) with pauses."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    out = np.zeros(n)
    pos = 0
    while pos < n:
        length = int(rate * rng.uniform(0.12, 0.25))
        seg = np.arange(min(length, n - pos)) / rate
        f0 = rng.uniform(100, 180) * (1 + 0.1 * seg / max(seg[-1], 1e-9) if len(seg) else 1)
        phase = 2 * np.pi * np.cumsum(f0) / rate
        voiced = sum(np.sin(h * phase) * np.exp(-(((h * f0.mean()) - rng.uniform(300, 2500)) / 400) ** 2) for h in range(1, 25))
        out[pos : pos + len(seg)] = voiced * np.hanning(len(seg))
        pos += len(seg) + int(rate * rng.uniform(0.05, 0.2))  # the syllable gap
    out *= 10 ** (-20 / 20) / np.sqrt(np.mean(out**2))
    return out.astype(np.float32)


async def analyse(audio: np.ndarray, engine: LocalEngine | None = None) -> tuple[list[WindowVerdict], ClipVerdict]:
    """Every 4 s window's verdict and the clip verdict of ``audio`` (mono or (frames, channels))."""
    engine = engine or LocalEngine()
    session = engine.open_session(StreamInfo(source_id="test"))
    samples = audio[:, None] if audio.ndim == 1 else audio
    windower = Windower(4.0)
    verdicts = [await session.analyze(w) for w in windower.feed(PcmBlock(0, samples.astype(np.float32), 0.0))]
    clip = await session.finish()
    await session.aclose()
    return verdicts, clip
