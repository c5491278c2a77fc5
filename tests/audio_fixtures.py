"""Synthetic audio for tests: music-like signals, encoded files, and bad inputs.

Everything is generated (numpy) and encoded (PyAV) on the fly, so no test
needs the shared corpus. Public helpers::

    music(seconds, rate=44100, channels=2, seed=0) -> np.ndarray  # float32 (frames, channels)
    tone(seconds, freq, rate=44100, channels=1, level=0.5) -> np.ndarray
    encode(path, samples, rate, fmt) -> Path                     # fmt in FORMATS
    truncated_mp3(path, seconds=3.0) -> Path
    random_bytes(path, size=4096, seed=0) -> Path
    empty_file(path) -> Path
    video_without_audio(path, seconds=1.0) -> Path
    long_silence(path, seconds=600.0) -> Path
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from streamer.audio import encode as _codecs


#: Every format :func:`encode` writes (the package's encoder; "hls" writes a playlist plus segments).
FORMATS = _codecs.FORMATS
#: Rates each codec can encode at (Opus only runs at 48 kHz and its divisors).
OPUS_RATES = (8000, 12000, 16000, 24000, 48000)


def tone(seconds: float, freq: float, rate: int = 44100, channels: int = 1, level: float = 0.5) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    wave = (level * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return np.repeat(wave[:, None], channels, axis=1)


def music(seconds: float, rate: int = 44100, channels: int = 2, seed: int = 0) -> np.ndarray:
    """Chords, a melody and drums at 120 bpm: broadband, rhythmic, tonal — like music."""
    rng = np.random.default_rng(seed)
    n = round(seconds * rate)
    t = np.arange(n) / rate
    beat = 0.5  # seconds
    out = np.zeros(n, dtype=np.float64)
    roots = 110.0 * 2 ** (rng.choice([0, 3, 5, 7, 8, 10], size=int(seconds / (4 * beat)) + 1) / 12)
    bar = (t // (4 * beat)).astype(int)
    for interval in (0, 4, 7):  # major triad, with a few harmonics each
        f = roots[bar] * 2 ** (interval / 12)
        for h in (1, 2, 3):
            out += 0.08 / h * np.sin(2 * np.pi * f * h * t)
    notes = 440.0 * 2 ** (rng.integers(-5, 8, size=int(seconds / (beat / 2)) + 1) / 12)
    step = (t // (beat / 2)).astype(int)
    phase_in_note = (t % (beat / 2)) / (beat / 2)
    out += 0.15 * np.sin(2 * np.pi * notes[step] * t) * np.exp(-3 * phase_in_note)
    since_beat = t % beat
    kick = np.sin(2 * np.pi * 60 * since_beat) * np.exp(-since_beat * 25)
    hat = rng.standard_normal(n) * np.exp(-((t + beat / 2) % beat) * 60) * 0.1
    out += 0.4 * kick + hat
    out /= max(1e-9, np.abs(out).max()) / 0.8
    if channels == 1:
        return out.astype(np.float32)[:, None]
    pan = np.linspace(0.8, 1.0, channels)  # slightly different channels, so downmix bugs show
    return (out[:, None] * pan[None, :]).astype(np.float32)


def encode(path: str | Path, samples: np.ndarray, rate: int, fmt: str, *, bitrate: int | None = None) -> Path:
    """Encode float32 ``(frames, channels)`` audio into ``path`` as ``fmt`` (a key of :data:`FORMATS`)."""
    _codecs.encode(samples, rate, path, fmt, bit_rate=bitrate)
    return Path(path)


def truncated_mp3(path: str | Path, seconds: float = 3.0) -> Path:
    """An MP3 cut off mid-frame at 60 % of its length (an interrupted download)."""
    path = Path(path)
    encode(path, music(seconds), 44100, "mp3")
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * 0.6) + 7])
    return path


def random_bytes(path: str | Path, size: int = 4096, seed: int = 0) -> Path:
    path = Path(path)
    path.write_bytes(np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8).tobytes())
    return path


def empty_file(path: str | Path) -> Path:
    path = Path(path)
    path.write_bytes(b"")
    return path


def video_without_audio(path: str | Path, seconds: float = 1.0) -> Path:
    """An MP4 holding only a small video track."""
    path = Path(path)
    fps = 10
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(round(seconds * fps)):
            image = np.full((48, 64, 3), (i * 20) % 256, dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def long_silence(path: str | Path, seconds: float = 600.0) -> Path:
    """Minutes of digital silence as mono 8 kHz FLAC: a few KB, encoded in well under a second."""
    return encode(path, np.zeros((round(seconds * 8000), 1), dtype=np.float32), 8000, "flac")
