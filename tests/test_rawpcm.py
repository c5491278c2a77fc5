"""Raw PCM decoding: every Modulate raw format against ffmpeg's own PCM encoders."""

from __future__ import annotations

import itertools

import av
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamer.audio.rawpcm import RAW_FORMATS, RAW_SAMPLE_RATES, RawPcmDecoder, validate_raw_params

RATE = 16000


def ffmpeg_encode(fmt: str, samples: np.ndarray) -> bytes:
    """Encode float ``(frames, channels)`` with ffmpeg's ``pcm_<fmt>`` codec: an independent reference."""
    codec = av.CodecContext.create("pcm_" + fmt, "w")
    layout = "mono" if samples.shape[1] == 1 else "stereo"
    codec.sample_rate, codec.layout = RATE, layout
    codec.format = codec.codec.audio_formats[0]
    frame = av.AudioFrame.from_ndarray(
        np.ascontiguousarray(samples.reshape(1, -1), dtype=np.float32), format="flt", layout=layout
    )
    frame.sample_rate, frame.pts = RATE, 0
    converted = av.AudioResampler(format=codec.format.name, layout=layout, rate=RATE).resample(frame)
    packets = [p for f in converted for p in codec.encode(f)] + list(codec.encode(None))
    return b"".join(bytes(p) for p in packets)


def test_sample_formats_are_modulates_list() -> None:
    assert len(RAW_FORMATS) == 20 and len(set(RAW_FORMATS)) == 20
    assert RAW_SAMPLE_RATES == (8000, 11025, 16000, 22050, 32000, 44100, 48000, 96000)


@pytest.mark.parametrize("fmt", RAW_FORMATS)
@pytest.mark.parametrize("channels", [1, 2])
def test_every_format_round_trips_a_known_signal(fmt: str, channels: int) -> None:
    t = np.arange(2000) / RATE
    signal = np.stack([0.9 * np.sin(2 * np.pi * 440 * t), -0.5 * np.sin(2 * np.pi * 97 * t)], axis=1)[:, :channels]
    data = ffmpeg_encode(fmt, signal)
    decoded = RawPcmDecoder(fmt, RATE, channels).feed(data)
    assert decoded.dtype == np.float32 and decoded.shape == signal.shape
    # Quantisation bound: a step of the format (G.711 steps reach 1/32 near full scale).
    tolerance = {"s8": 1 / 64, "u8": 1 / 64, "mulaw": 0.02, "alaw": 0.02}.get(fmt, 1e-4)
    np.testing.assert_allclose(decoded, signal, atol=tolerance)


@pytest.mark.parametrize(
    ("fmt", "data", "expected"),
    [
        ("s24le", b"\x00\x00\x80", -1.0),
        ("s24be", b"\x80\x00\x00", -1.0),
        ("s24le", b"\xff\xff\x7f", (2**23 - 1) / 2**23),
        ("u24be", b"\x80\x00\x00", 0.0),
        ("u8", b"\x80", 0.0),
        ("u16le", b"\x00\x00", -1.0),
        ("s8", b"\x80", -1.0),
        ("mulaw", b"\xff", 0.0),
        ("mulaw", b"\x00", -32124 / 32768),
        ("alaw", b"\xd5", 8 / 32768),
        ("alaw", b"\x55", -8 / 32768),
        ("f64be", np.array([0.25], ">f8").tobytes(), 0.25),
    ],
)
def test_exact_values(fmt: str, data: bytes, expected: float) -> None:
    assert RawPcmDecoder(fmt, 8000, 1).feed(data)[0, 0] == pytest.approx(expected, abs=1e-9)


@settings(max_examples=150, deadline=None)
@given(
    fmt=st.sampled_from(RAW_FORMATS),
    channels=st.integers(1, 3),
    data=st.binary(min_size=0, max_size=600),
    cuts=st.lists(st.integers(0, 600), max_size=12),
)
def test_any_chunking_decodes_identically(fmt: str, channels: int, data: bytes, cuts: list[int]) -> None:
    whole = RawPcmDecoder(fmt, 8000, channels).feed(data)
    decoder = RawPcmDecoder(fmt, 8000, channels)
    bounds = [0, *sorted(c for c in cuts if c <= len(data)), len(data)]
    parts = [decoder.feed(data[a:b]) for a, b in itertools.pairwise(bounds)]
    np.testing.assert_array_equal(np.concatenate(parts), whole)  # NaN-safe: float inputs may hold NaN bit patterns
    assert decoder.pending_bytes == len(data) % decoder.frame_bytes


def test_one_byte_at_a_time() -> None:
    data = np.arange(-300, 300, dtype="<i2").tobytes()
    decoder = RawPcmDecoder("s16le", 8000, 2)
    out = np.concatenate([decoder.feed(data[i : i + 1]) for i in range(len(data))])
    np.testing.assert_array_equal(out.reshape(-1), np.arange(-300, 300) / 32768)


@pytest.mark.parametrize(
    ("fmt", "rate", "channels", "message"),
    [
        ("s16", 8000, 1, "invalid raw format 's16'"),
        ("s16le", 50000, 1, "invalid sample rate 50000"),
        ("s16le", 8000, 9, "1-8"),
    ],
)
def test_bad_declarations_are_explained(fmt: str, rate: int, channels: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_raw_params(fmt, rate, channels)
