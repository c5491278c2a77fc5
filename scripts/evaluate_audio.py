"""Audio side of scripts/evaluate: middle-of-file clips and the robustness transforms.

Clips (the middle CLIP_SECONDS of every corpus file, 44.1 kHz mono, decoded like
training data) are cached in /tmp as int16. Each transform is what a release or a
broadcast chain does to a file — lossy codecs, resampling, gain, pitch, speed,
a voice over it — built with PyAV, soxr and numpy only.
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import soxr

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parent)]

from train_dataset import CORPUS, decode, middle, window_evidence

from streamer.engines.local.spectrum import N_FFT
from streamer.types import SAMPLE_RATE

CLIP_SECONDS = 24  # 6 windows: long enough for an accumulated verdict, short enough to transform 270 files
CLIP_CACHE = Path("/tmp/aimd_eval_clips.npz")
SEMITONE = 2.0 ** (1.0 / 12.0)


@dataclass
class Clip:
    name: str
    label: str
    generator: str
    has_vocals: str
    mono: np.ndarray  # float32 at SAMPLE_RATE


def load_clips(rebuild: bool = False) -> list[Clip]:
    """Every corpus file's middle clip, from the /tmp cache when present."""
    if CLIP_CACHE.exists() and not rebuild:
        data = np.load(CLIP_CACHE, allow_pickle=False)
        bounds = np.concatenate(([0], np.cumsum(data["lengths"])))
        return [
            Clip(str(n), str(lab), str(g), str(v), data["pcm"][a:b].astype(np.float32) / 32767.0)
            for n, lab, g, v, a, b in zip(data["name"], data["label"], data["generator"], data["has_vocals"], bounds[:-1], bounds[1:])
        ]
    with open(CORPUS / "manifest.csv") as manifest:
        rows = list(csv.DictReader(manifest))
    clips = []
    for i, row in enumerate(rows):
        clips.append(Clip(row["file"], row["label"], row["generator"], row["has_vocals"], middle(decode(CORPUS / row["file"]), CLIP_SECONDS)))
        print(f"\r{i + 1}/{len(rows)} clips decoded", end="", file=sys.stderr)
    print(file=sys.stderr)
    np.savez(
        CLIP_CACHE,
        pcm=np.concatenate([np.round(np.clip(c.mono, -1, 1) * 32767).astype(np.int16) for c in clips]),
        lengths=np.array([len(c.mono) for c in clips]),
        **{key: np.array([getattr(c, key) for c in clips]) for key in ("name", "label", "generator", "has_vocals")},
    )
    return clips


def codec_round_trip(mono: np.ndarray, codec: str, container: str, bit_rate: int, rate: int = SAMPLE_RATE) -> np.ndarray:
    """Encode ``mono`` with ``codec`` at ``bit_rate`` in memory and decode it back to SAMPLE_RATE."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=container) as out:
        stream = out.add_stream(codec, rate=rate, layout="mono")
        stream.bit_rate = bit_rate
        frame = av.AudioFrame.from_ndarray(mono[None, :].astype(np.float32), format="flt", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        resampler = av.AudioResampler(format=stream.codec_context.format, layout="mono", rate=rate)
        fifo = av.AudioFifo()
        for converted in resampler.resample(frame) + resampler.resample(None):
            fifo.write(converted)
        size = stream.codec_context.frame_size or 1024
        while chunk := fifo.read(size, partial=True):
            out.mux(stream.encode(chunk))
        out.mux(stream.encode(None))
    buffer.seek(0)
    return decode(buffer)


def atempo(mono: np.ndarray, factor: float) -> np.ndarray:
    """Change tempo by ``factor`` keeping pitch (FFmpeg's WSOLA ``atempo`` filter)."""
    graph = av.filter.Graph()
    source = graph.add_abuffer(format="flt", sample_rate=SAMPLE_RATE, layout="mono")
    stretch = graph.add("atempo", f"{factor:.6f}")
    sink = graph.add("abuffersink")
    source.link_to(stretch)
    stretch.link_to(sink)
    graph.configure()
    frame = av.AudioFrame.from_ndarray(mono[None, :].astype(np.float32), format="flt", layout="mono")
    frame.sample_rate = SAMPLE_RATE
    graph.push(frame)
    graph.push(None)
    out = []
    while True:
        try:
            out.append(graph.pull().to_ndarray().reshape(-1))
        except (av.error.EOFError, av.error.BlockingIOError):
            return np.concatenate(out).astype(np.float32)


def pitch_up_semitone(mono: np.ndarray) -> np.ndarray:
    """+1 semitone at constant tempo: play faster (resample), then stretch time back (atempo)."""
    faster = soxr.resample(mono, SAMPLE_RATE * SEMITONE, SAMPLE_RATE).astype(np.float32)
    return atempo(faster, 1.0 / SEMITONE)


def gain(db: float) -> Callable[[np.ndarray], np.ndarray]:
    return lambda mono: np.clip(mono * np.float32(10 ** (db / 20)), -1.0, 1.0)  # a file cannot exceed full scale


def under_speech(voices: list[np.ndarray], music_db: float = -10.0) -> Callable[[np.ndarray], np.ndarray]:
    """Music ``music_db`` below a speaking voice (a presenter over a bed), voices taken in turn."""
    state = {"next": 0}

    def mix(mono: np.ndarray) -> np.ndarray:
        voice = voices[state["next"] % len(voices)]
        state["next"] += 1
        voice = np.resize(voice, len(mono))
        scale = np.sqrt(np.mean(voice**2) / max(np.mean(mono**2), 1e-12)) * 10 ** (music_db / 20)
        return (voice + scale * mono).astype(np.float32)

    return mix


def transforms(voices: list[np.ndarray]) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    return {
        "MP3 128 kbps": lambda m: codec_round_trip(m, "libmp3lame", "mp3", 128_000),
        "MP3 64 kbps": lambda m: codec_round_trip(m, "libmp3lame", "mp3", 64_000),
        "AAC 96 kbps": lambda m: codec_round_trip(m, "aac", "adts", 96_000),
        "Opus 64 kbps": lambda m: codec_round_trip(m, "libopus", "ogg", 64_000, rate=48_000),
        "resample 48 kHz": lambda m: soxr.resample(soxr.resample(m, SAMPLE_RATE, 48_000), 48_000, SAMPLE_RATE).astype(np.float32),
        "gain +10 dB": gain(10.0),
        "gain −10 dB": gain(-10.0),
        "pitch +1 semitone": pitch_up_semitone,
        "speed +2 %": lambda m: soxr.resample(m, SAMPLE_RATE * 1.02, SAMPLE_RATE).astype(np.float32),
        "under speech, music −10 dB": under_speech(voices),
    }


ROBUSTNESS_CACHE = Path("/tmp/aimd_eval_robustness_jitter.npz")  # new name: the old cache has no floors
ORIGINAL = "original"


@dataclass
class Conditions:
    """dB-sum spectra and mean jitter floors of every music clip under every condition (the original first)."""

    names: list[str]
    clip_names: list[str]
    sums: np.ndarray  # (conditions, clips, bins)
    frames: np.ndarray  # (conditions, clips)
    floors: np.ndarray  # (conditions, clips) mean jitter floor of the clip's windows


def _clip_sum(mono: np.ndarray) -> tuple[np.ndarray, int, float]:
    sums, frames, floors = window_evidence(mono)
    return sums.sum(axis=0), int(frames.sum()), float(floors.mean()) if len(floors) else np.nan


def robustness_spectra(clips: list[Clip], rebuild: bool = False) -> Conditions:
    """Spectra of the music clips, original and transformed, from the /tmp cache when present."""
    if ROBUSTNESS_CACHE.exists() and not rebuild:
        data = np.load(ROBUSTNESS_CACHE, allow_pickle=False)
        return Conditions(list(map(str, data["names"])), list(map(str, data["clip_names"])), data["sums"], data["frames"], data["floors"])
    music = [c for c in clips if c.label in ("ai", "real")]
    chain = {ORIGINAL: lambda m: m, **transforms([c.mono for c in clips if c.label == "speech"])}
    sums = np.zeros((len(chain), len(music), N_FFT // 2 + 1), dtype=np.float32)
    frames = np.zeros((len(chain), len(music)), dtype=np.int64)
    floors = np.full((len(chain), len(music)), np.nan)
    for j, clip in enumerate(music):
        for i, transform in enumerate(chain.values()):
            sums[i, j], frames[i, j], floors[i, j] = _clip_sum(transform(clip.mono))
        print(f"\r{j + 1}/{len(music)} clips transformed", end="", file=sys.stderr)
    print(file=sys.stderr)
    result = Conditions(list(chain), [c.name for c in music], sums, frames, floors)
    np.savez(ROBUSTNESS_CACHE, names=np.array(result.names), clip_names=np.array(result.clip_names), sums=sums, frames=frames, floors=floors)
    return result


if __name__ == "__main__":
    robustness_spectra(load_clips(rebuild=True), rebuild=True)
