"""A small deterministic music synthesiser: pads, bass, a sung-like lead and drums.

Used by ``aimd demo`` (which must run offline with no input) and by the tests,
which must not depend on any audio they did not make. It is built to look like
produced music to a spectrum analyser — detuned voices, vibrato, noise in the
drums, a soft master bus — not like a test tone, so a detector that passes it
is not passing it for being trivially clean.
"""

from __future__ import annotations

import numpy as np

#: I–V–vi–IV in C major, as MIDI note numbers of the chord roots and qualities.
_PROGRESSION = ((48, (0, 4, 7)), (55, (0, 4, 7)), (57, (0, 3, 7)), (53, (0, 4, 7)))
_MELODY = (72, 74, 76, 79, 76, 74, 72, 69, 67, 69, 72, 74, 76, 74, 72, 71)


def _hz(midi: float) -> float:
    return 440.0 * 2.0 ** ((midi - 69) / 12)


def _voice(freq: float, t: np.ndarray, rng: np.random.Generator, harmonics: int, vibrato: float = 0.0) -> np.ndarray:
    """A band-limited sawtooth-like tone with slight random detune and optional vibrato."""
    detune = 1.0 + rng.normal(0.0, 0.002)
    phase_mod = 0.0
    if vibrato:
        rate = 5.0 + rng.uniform(-0.5, 0.5)
        phase_mod = vibrato * np.sin(2 * np.pi * rate * t) / rate
    out = np.zeros_like(t)
    for k in range(1, harmonics + 1):
        if freq * k * detune > 16_000:
            break
        out += np.sin(2 * np.pi * k * (freq * detune * t + freq * phase_mod)) / k ** 1.3
    return out


def _envelope(n: int, rate: int, attack: float, release: float) -> np.ndarray:
    env = np.ones(n)
    a, r = max(1, int(attack * rate)), max(1, int(release * rate))
    env[:a] = np.linspace(0.0, 1.0, min(a, n))[: n]
    env[-r:] *= np.linspace(1.0, 0.0, min(r, n))
    return env


def _drums(n: int, rate: int, beat: int, rng: np.random.Generator) -> np.ndarray:
    out = np.zeros(n)
    kick_len, hat_len = int(0.25 * rate), int(0.05 * rate)
    tk = np.arange(kick_len) / rate
    kick = np.sin(2 * np.pi * (50 * tk + 60 * (1 - np.exp(-tk * 30)) / 30)) * np.exp(-tk * 12)
    for i, start in enumerate(range(0, n, beat // 2)):
        if i % 4 == 0:
            seg = kick[: n - start]
            out[start : start + len(seg)] += seg
        if i % 4 == 2:  # snare: noise burst with a body tone
            length = min(int(0.18 * rate), n - start)
            ts = np.arange(length) / rate
            snare = (rng.normal(0, 0.5, length) + np.sin(2 * np.pi * 190 * ts)) * np.exp(-ts * 22)
            out[start : start + length] += 0.6 * snare
        length = min(hat_len, n - start)
        hat = np.diff(rng.normal(0, 1.0, length + 1)) * np.exp(-np.arange(length) / rate * 80)
        out[start : start + length] += 0.12 * hat
    return out


def music(seconds: float, rate: int = 44_100, channels: int = 2, seed: int = 0, tempo_bpm: float = 100.0) -> np.ndarray:
    """Synthesise ``seconds`` of music as float32 ``(frames, channels)`` peaking near −1 dBFS."""
    rng = np.random.default_rng(seed)
    n = int(round(seconds * rate))
    beat = int(rate * 60 / tempo_bpm)
    bar = 4 * beat
    left, right = np.zeros(n), np.zeros(n)
    for bar_index, start in enumerate(range(0, n, bar)):
        length = min(bar, n - start)
        t = np.arange(length) / rate
        root, quality = _PROGRESSION[bar_index % len(_PROGRESSION)]
        env = _envelope(length, rate, 0.08, 0.15)
        for j, interval in enumerate(quality):
            pad = 0.10 * env * _voice(_hz(root + 12 + interval), t, rng, harmonics=12)
            pan = 0.3 + 0.2 * j
            left[start : start + length] += pad * (1 - pan)
            right[start : start + length] += pad * pan
        bass = 0.25 * env * _voice(_hz(root - 12), t, rng, harmonics=6)
        left[start : start + length] += bass
        right[start : start + length] += bass
        for step in range(4):  # one lead note per beat, sung-like (vibrato, formant-ish harmonics)
            s = start + step * beat
            if s >= n:
                break
            note_len = min(beat, n - s)
            tn = np.arange(note_len) / rate
            note = _MELODY[(bar_index * 4 + step) % len(_MELODY)]
            lead = 0.12 * _envelope(note_len, rate, 0.03, 0.08) * _voice(_hz(note), tn, rng, harmonics=10, vibrato=0.004)
            left[s : s + note_len] += lead
            right[s : s + note_len] += lead
    drums = _drums(n, rate, beat, rng)
    left += 0.5 * drums
    right += 0.5 * drums
    mix = np.stack([left, right], axis=1)
    mix = np.tanh(1.5 * mix) / np.tanh(1.5)  # gentle bus saturation, like a mastering limiter
    mix *= 0.89 / max(float(np.max(np.abs(mix))), 1e-9)
    if channels == 1:
        mix = mix.mean(axis=1, keepdims=True)
    return mix.astype(np.float32)


def silence(seconds: float, rate: int = 44_100, channels: int = 2) -> np.ndarray:
    return np.zeros((int(round(seconds * rate)), channels), dtype=np.float32)
