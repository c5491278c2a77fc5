"""Encode PCM to a compressed file with PyAV.

Used where aimd has to hand audio to someone as a file: the demo writes its
clips through a real codec, and clip engines upload FLAC/MP3 to vendors.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import BinaryIO

import av
import numpy as np

#: Container → (codec, sample format the codec wants, default bit rate).
CODECS: dict[str, tuple[str, str, int | None]] = {
    "wav": ("pcm_s16le", "s16", None),
    "flac": ("flac", "s16", None),
    "mp3": ("libmp3lame", "fltp", 192_000),
    "ogg": ("vorbis", "fltp", 160_000),  # the wheel ships only ffmpeg's own (experimental) Vorbis encoder
    "opus": ("libopus", "flt", 96_000),
    "m4a": ("aac", "fltp", 160_000),
}

#: Containers whose muxer name differs from the file ending.
_MUXERS = {"m4a": "ipod", "opus": "ogg"}


def encode(
    samples: np.ndarray,
    rate: int,
    dest: str | Path | BinaryIO,
    fmt: str,
    *,
    bit_rate: int | None = None,
) -> None:
    """Encode float32 ``(frames, channels)`` audio at ``rate`` to ``dest`` as ``fmt`` (see :data:`CODECS`)."""
    if fmt not in CODECS:
        raise ValueError(f"cannot encode {fmt!r}; choose one of {sorted(CODECS)}")
    codec, sample_fmt, default_rate = CODECS[fmt]
    if codec == "libopus" and rate != 48_000:
        raise ValueError("Opus encodes 48 kHz audio only; resample first")
    samples = np.ascontiguousarray(samples, dtype=np.float32)
    channels = samples.shape[1]
    layout = "mono" if channels == 1 else "stereo"
    target = str(dest) if isinstance(dest, (str, Path)) else dest
    with av.open(target, mode="w", format=_MUXERS.get(fmt, fmt)) as container:
        stream = container.add_stream(codec, rate=rate, layout=layout)
        if bit_rate or default_rate:
            stream.bit_rate = bit_rate or default_rate
        if codec == "vorbis":
            stream.codec_context.options = {"strict": "experimental"}
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="flt", layout=layout)
        frame.sample_rate = rate
        resampler = av.AudioResampler(format=sample_fmt, layout=layout, rate=rate)
        for converted in resampler.resample(frame):
            for packet in stream.encode(converted):
                container.mux(packet)
        for converted in resampler.resample(None):
            for packet in stream.encode(converted):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def encode_bytes(samples: np.ndarray, rate: int, fmt: str, *, bit_rate: int | None = None) -> bytes:
    buffer = io.BytesIO()
    encode(samples, rate, buffer, fmt, bit_rate=bit_rate)
    return buffer.getvalue()
