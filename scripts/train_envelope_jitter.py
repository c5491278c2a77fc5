"""Calibrate the envelope-jitter family (second evidence family) on the corpus's real music.

Usage: python scripts/train_envelope_jitter.py
Writes streamer/engines/local/model/envelope_jitter.npz. Deterministic (no randomness).

Only real music is used — each file plus copies band-limited through 16 / 22.05 /
24 kHz, so a low-pass file cannot look unusual — windowed and routed like the
engine (silent and speech windows leave the evidence). For 1, 2, 4, 8 accumulated
windows and whole files the model stores real music's median and robust σ of the
mean jitter floor and puts the threshold MARGIN σ above its 99th percentile: the
family only adds evidence, and the corpus's real music is narrow (issue lesson 2).
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parent)]

from train_dataset import BANDLIMIT_RATES, CORPUS, middle, through_rate

from streamer.audio.decode import DecodeStats, decode_file
from streamer.audio.resample import Resampler
from streamer.engines.local.content import ContentModel, analyse, default_content_model
from streamer.engines.local.envelope_jitter import JITTER_PATH, JitterModel, jitter_floor
from streamer.engines.local.spectrum import downmix
from streamer.types import SAMPLE_RATE

VERSION = "local-jitter-1"
WINDOW = 4 * SAMPLE_RATE
SILENCE_RMS = 10 ** (-55 / 20)  # as scripts/train_dataset.py: silent windows carry no evidence
ACCUMULATIONS = (1, 2, 4, 8)  # windows; plus the whole file
REAL_QUANTILE = 0.99
#: σ above the real 99th percentile. Measured (REPORT.md): 1 σ let one real file in 94 through
#: (whole-file FPR 1.1 % → 2.1 %); 2 σ kept FPR unchanged and still caught 57 % of Griffin-Lim files.
MARGIN = 2.0
#: Logit per σ above the threshold: steep, so real music below it stays far below the fingerprint's
#: logit and the max-fusion does not reorder the files the fingerprint already ranks.
SLOPE = 4.0


def decode_mono(path: Path) -> np.ndarray:
    """The file as the engine sees it: project decoder, soxr to SAMPLE_RATE, channels averaged."""
    blocks = [block.samples for block in decode_file(str(path), Resampler(), DecodeStats())]
    return downmix(np.concatenate(blocks)) if blocks else np.zeros(0, np.float32)


def music_floors(mono: np.ndarray, content: ContentModel) -> np.ndarray:
    """Jitter floor of every 4 s window the engine would judge as music (not silent, not mostly speech)."""
    floors = []
    for start in range(0, len(mono) - WINDOW + 1, WINDOW):
        window = mono[start : start + WINDOW]
        if np.sqrt(np.mean(window**2)) < SILENCE_RMS:
            continue
        analysis = analyse(window)
        if analysis is None or content.probabilities(analysis.features)[1] >= 0.5:
            continue
        floors.append(jitter_floor(analysis.cepstra))
    return np.array(floors)


def block_means(floors: np.ndarray, n: int | None) -> np.ndarray:
    """Means over consecutive blocks of n windows (None: the whole file)."""
    if n is None:
        return floors.mean(keepdims=True) if len(floors) else floors
    usable = len(floors) // n * n
    return floors[:usable].reshape(-1, n).mean(axis=1)


def calibrate(per_file: list[np.ndarray], version: str = VERSION) -> JitterModel:
    """Real music's median, robust σ and threshold per accumulation (whole files at the longest file's length)."""
    longest = max(len(floors) for floors in per_file)
    rows = []
    for n in (*ACCUMULATIONS, None):
        values = np.concatenate([block_means(floors, n) for floors in per_file])
        centre = float(np.median(values))
        scale = float(np.subtract(*np.quantile(values, [0.75, 0.25])) / 1.349)
        rows.append((float(longest if n is None else n), centre, scale, float(np.quantile(values, REAL_QUANTILE)) + MARGIN * scale))
    rows.sort()  # whole files are at least as long as the 8-window blocks
    windows, centres, scales, thresholds = (np.array(column) for column in zip(*rows))
    if not (np.diff(windows) > 0).all():
        raise SystemExit(f"the longest real file has only {int(longest)} music windows: too short to calibrate whole files")
    # More audio must never lower the bar: 8-window blocks come only from the long files and set a
    # lower threshold than whole files of every length, so each row takes the highest of itself and longer rows.
    thresholds = np.maximum.accumulate(thresholds[::-1])[::-1]
    return JitterModel(version, windows, centres, scales, thresholds, SLOPE)


def real_music_floors() -> list[np.ndarray]:
    """Per real file and per band-limited copy: the jitter floors of its music windows (middle 96 s)."""
    with open(CORPUS / "manifest.csv") as manifest:
        rows = [row for row in csv.DictReader(manifest) if row["label"] == "real"]
    content = default_content_model()
    per_file = []
    for i, row in enumerate(rows):
        mono = middle(decode_mono(CORPUS / row["file"]))
        for copy in (mono, *(through_rate(mono, rate) for rate in BANDLIMIT_RATES)):
            if len(floors := music_floors(copy, content)):
                per_file.append(floors)
        print(f"\r{i + 1}/{len(rows)} real files", end="", file=sys.stderr)
    print(file=sys.stderr)
    return per_file


def main() -> None:
    model = calibrate(real_music_floors())
    model.save(JITTER_PATH)
    table = ", ".join(f"{w:.0f}w: {t:.3f}" for w, t in zip(model.windows, model.thresholds))
    print(f"wrote {JITTER_PATH} ({JITTER_PATH.stat().st_size} B), thresholds {table}")


if __name__ == "__main__":
    main()
