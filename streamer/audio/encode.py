"""Encode PCM to a compressed file with PyAV.

Used where aimd has to hand audio over as a file: the demo writes its clips
through a real codec, clip engines upload FLAC/MP3 to vendors, and the tests
make every format they decode.
"""

from __future__ import annotations

import io
from fractions import Fraction
from pathlib import Path
from typing import BinaryIO, NamedTuple

import av
import numpy as np


class Codec(NamedTuple):
    container: str
    codec: str
    sample_fmt: str  # what the encoder takes
    bit_rate: int | None = None
    codec_options: dict[str, str] | None = None
    container_options: dict[str, str] | None = None


#: Every format :func:`encode` writes. "hls" writes a VOD playlist plus 1 s MPEG-TS segments beside it.
FORMATS: dict[str, Codec] = {
    "wav": Codec("wav", "pcm_s16le", "s16"),
    "flac": Codec("flac", "flac", "s16"),
    "mp3": Codec("mp3", "libmp3lame", "fltp", 192_000),
    # The PyAV wheel ships only ffmpeg's own Vorbis encoder, which is flagged experimental.
    "ogg": Codec("ogg", "vorbis", "fltp", 160_000, {"strict": "experimental"}),
    "opus": Codec("opus", "libopus", "flt", 96_000),  # 48 kHz and its divisors only
    "m4a": Codec("ipod", "aac", "fltp", 160_000),
    "hls": Codec("hls", "aac", "fltp", 160_000, None, {"hls_time": "1", "hls_playlist_type": "vod"}),
}

_CHUNK = 4096  # frames per encoder call


def encode(
    samples: np.ndarray,
    rate: int,
    dest: str | Path | BinaryIO,
    fmt: str,
    *,
    bit_rate: int | None = None,
) -> None:
    """Encode float32 ``(frames, channels)`` audio at ``rate`` to ``dest`` as ``fmt`` (a key of :data:`FORMATS`)."""
    if fmt not in FORMATS:
        raise ValueError(f"cannot encode {fmt!r}; choose one of {sorted(FORMATS)}")
    spec = FORMATS[fmt]
    layout = {1: "mono", 2: "stereo", 6: "5.1"}.get(samples.shape[1], f"{samples.shape[1]}c")
    target = str(dest) if isinstance(dest, (str, Path)) else dest
    with av.open(target, "w", format=spec.container, options=spec.container_options) as out:
        stream = out.add_stream(spec.codec, rate=rate, layout=layout, options=spec.codec_options)
        if bit_rate or spec.bit_rate:
            stream.bit_rate = bit_rate or spec.bit_rate
        stream.time_base = Fraction(1, rate)
        for start in range(0, samples.shape[0], _CHUNK):
            frame = _frame(samples[start : start + _CHUNK], spec.sample_fmt, layout, rate)
            frame.pts = start
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def encode_bytes(samples: np.ndarray, rate: int, fmt: str, *, bit_rate: int | None = None) -> bytes:
    buffer = io.BytesIO()
    encode(samples, rate, buffer, fmt, bit_rate=bit_rate)
    return buffer.getvalue()


def _frame(part: np.ndarray, sample_fmt: str, layout: str, rate: int) -> av.AudioFrame:
    if sample_fmt == "s16":
        data = (np.clip(part, -1, 1) * 32767).astype(np.int16).reshape(1, -1)
    elif sample_fmt == "flt":
        data = np.ascontiguousarray(part, dtype=np.float32).reshape(1, -1)
    else:  # planar float
        data = np.ascontiguousarray(part.T, dtype=np.float32)
    frame = av.AudioFrame.from_ndarray(data, format=sample_fmt, layout=layout)
    frame.sample_rate = rate
    return frame
