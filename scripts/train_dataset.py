"""Corpus → per-window fingerprint spectra, shared by scripts/train_local.py and scripts/evaluate_local.py.

Every file is decoded with PyAV and resampled to 44.1 kHz mono the same way, so
neither container, codec nor native rate can leak the label. Alongside the
corpus files it synthesises two kinds of augmented file from real music:
  * band-limited real music (through 16 / 22.05 / 24 kHz and back), labelled real,
    so "no content above 8–12 kHz" cannot mean AI (the bandwidth shortcut);
  * random-decoder positives (decoder_artefacts at a random internal rate, stride
    set and a weak -24…-36 dB level: random decoders are far easier than real ones).
The cache holds each window's dB-sum spectrum and envelope-jitter floor so evaluation
can accumulate N windows of both evidence families.
"""

from __future__ import annotations

import csv
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import av
import numpy as np
import soxr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streamer.engines.local.artefacts import decoder_artefacts
from streamer.engines.local.content import analyse
from streamer.engines.local.envelope_jitter import jitter_floor
from streamer.engines.local.spectrum import N_FFT, frame_db_sum
from streamer.types import SAMPLE_RATE

#: The labelled corpus: ../shared/corpus beside the checkout, or $AIMD_CORPUS.
CORPUS = Path(os.environ.get("AIMD_CORPUS", Path(__file__).resolve().parents[2] / "shared" / "corpus"))
WINDOW = 4 * SAMPLE_RATE
MAX_SECONDS = 96  # the middle 96 s of long files: 24 windows is enough evidence per track
SYNTH_STRIDES = ((8, 5, 4, 2), (8, 8, 4, 2), (4, 4, 4, 2, 2, 2), (8, 4, 4, 2), (5, 4, 4, 3), (6, 5, 4, 2), (8, 8, 4))
SYNTH_RATES = (16_000, 22_050, 24_000, 32_000, 44_100, 48_000)
BANDLIMIT_RATES = (16_000, 22_050, 24_000)
#: Human-composed music rendered through sampled instruments (scripts/render_midi.py): real music the
#: corpus lacks, one set per General MIDI sample library. Evaluation only (docs/model.md says why).
RENDERED_SETS = {"fluidr3": Path("/tmp/aimd_rendered_fluidr3.npz"), "timgm": Path("/tmp/aimd_rendered_timgm.npz")}
#: Soundtracks of free games from Debian packages (scripts/debian_music.py): real music in many
#: production styles, evaluation only.
DEBIAN_MUSIC = Path("/tmp/aimd_debian_music.npz")
#: Generator names of the augmented files: they train the model, and reports leave them out.
AUGMENTED = ("synthetic-decoder", "bandlimited-real")


@dataclass
class Item:
    name: str
    label: str  # ai / real / speech
    generator: str  # corpus generator, or synthetic-decoder / bandlimited-real
    group: str  # the track: reconstructions share it with their original
    has_vocals: str
    spectra: np.ndarray  # (windows, bins) dB sums
    frames: np.ndarray  # (windows,) STFT frames per window
    floors: np.ndarray  # (windows,) envelope-jitter floor per window
    mono: np.ndarray | None = None  # kept only for real music (augmentation source)


def decode(source: Path | BinaryIO) -> np.ndarray:
    """Whole file (a path or an in-memory file) → float32 mono at SAMPLE_RATE via PyAV's resampler."""
    with av.open(str(source) if isinstance(source, Path) else source) as container:
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        chunks = [f.to_ndarray().reshape(-1) for frame in container.decode(stream) for f in resampler.resample(frame)]
        chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    return np.concatenate(chunks) if chunks else np.zeros(0, np.float32)


def middle(mono: np.ndarray, seconds: int = MAX_SECONDS) -> np.ndarray:
    limit = seconds * SAMPLE_RATE
    start = max(0, (len(mono) - limit) // 2)
    return mono[start : start + limit]


def window_evidence(mono: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per audible 4 s window: dB-sum spectrum, STFT frames, jitter floor (what the engine's scorer reads)."""
    sums, frames, floors = [], [], []
    for start in range(0, len(mono) - WINDOW + 1, WINDOW):
        chunk = mono[start : start + WINDOW]
        if np.sqrt(np.mean(chunk**2)) < 10 ** (-55 / 20):  # silence carries no fingerprint
            continue
        s, f = frame_db_sum(chunk)
        analysis = analyse(chunk)
        assert analysis is not None  # a 4 s window is long enough
        sums.append(s.astype(np.float32))
        frames.append(f)
        floors.append(jitter_floor(analysis.cepstra))
    return np.array(sums).reshape(len(sums), N_FFT // 2 + 1), np.array(frames, dtype=np.int32), np.array(floors)


def through_rate(mono: np.ndarray, rate: int) -> np.ndarray:
    if rate == SAMPLE_RATE:
        return mono
    return soxr.resample(soxr.resample(mono, SAMPLE_RATE, rate), rate, SAMPLE_RATE).astype(np.float32)


def synthetic_positive(mono: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    rate = int(rng.choice(SYNTH_RATES))
    strides = SYNTH_STRIDES[rng.integers(len(SYNTH_STRIDES))]
    level = float(rng.uniform(-36, -24))
    at_rate = soxr.resample(mono, SAMPLE_RATE, rate) if rate != SAMPLE_RATE else mono
    mixed = decoder_artefacts(at_rate, rate, strides=strides, seed=int(rng.integers(1 << 31)), level_db=level)
    back = soxr.resample(mixed, rate, SAMPLE_RATE) if rate != SAMPLE_RATE else mixed
    return back.astype(np.float32), f"{rate}Hz {'x'.join(map(str, strides))} {level:.0f}dB"


def load_corpus(limit: int | None = None) -> list[Item]:
    with open(CORPUS / "manifest.csv") as manifest:
        rows = list(csv.DictReader(manifest))[:limit]
    items = []
    for i, row in enumerate(rows):
        mono = middle(decode(CORPUS / row["file"]))
        spectra, frames, floors = window_evidence(mono)
        if len(frames) == 0:
            continue
        items.append(
            Item(
                name=row["file"],
                label=row["label"],
                generator=row["generator"],
                group=Path(row["source_path"]).stem,
                has_vocals=row["has_vocals"],
                spectra=spectra,
                frames=frames,
                floors=floors,
                mono=mono if row["label"] == "real" else None,
            )
        )
        print(f"\r{i + 1}/{len(rows)} decoded", end="", file=sys.stderr)
    print(file=sys.stderr)
    return items


def augment(items: list[Item], seed: int = 0) -> list[Item]:
    """One band-limited negative and one random-decoder positive per real track, same group."""
    rng = np.random.default_rng(seed)
    extra = []
    for item in items:
        if item.mono is None:
            continue
        limited = through_rate(item.mono, int(rng.choice(BANDLIMIT_RATES)))
        positive, recipe = synthetic_positive(item.mono, rng)
        for mono, label, generator in ((limited, "real", "bandlimited-real"), (positive, "ai", "synthetic-decoder")):
            extra.append(Item(f"{item.name} [{generator}]", label, generator, item.group, item.has_vocals, *window_evidence(mono)))
        item.mono = None
    return items + extra


CACHE = Path("/tmp/aimd_local_dataset_jitter.npz")  # new name: the old cache has no floors
_META = ("name", "label", "generator", "group", "has_vocals")


def save(items: list[Item], path: Path = CACHE) -> None:
    np.savez(
        path,
        spectra=np.concatenate([i.spectra for i in items]),
        frames=np.concatenate([i.frames for i in items]),
        floors=np.concatenate([i.floors for i in items]),
        owner=np.concatenate([np.full(len(i.frames), k) for k, i in enumerate(items)]),
        **{key: np.array([getattr(i, key) for i in items]) for key in _META},
    )


def load(path: Path = CACHE) -> list[Item]:
    data = np.load(path, allow_pickle=False)
    owner = data["owner"]
    per_window = {key: data[key] for key in ("spectra", "frames", "floors")}  # read each array once
    return [
        Item(**{key: str(data[key][k]) for key in _META}, **{key: array[owner == k] for key, array in per_window.items()})
        for k in range(len(data["name"]))
    ]


def dataset(rebuild: bool = False) -> list[Item]:
    """The augmented corpus, from the /tmp cache when present (decoding takes minutes)."""
    if CACHE.exists() and not rebuild:
        return load()
    items = augment(load_corpus())
    save(items)
    return items


if __name__ == "__main__":
    dataset(rebuild=True)
